import kotlin.system.exitProcess

fun main(args: Array<String>) {
    println("hello, world")
    val line = readLine() ?: ""
    println("stdin: $line")
    for (a in args) println("arg: $a")
    if (line == "fail") exitProcess(3)
    if (line == "crash") throw RuntimeException("crash")
}
