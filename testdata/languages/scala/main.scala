object Main {
  def main(args: Array[String]): Unit = {
    println("hello, world")
    val line = Option(scala.io.StdIn.readLine()).getOrElse("")
    println("stdin: " + line)
    args.foreach(a => println("arg: " + a))
    if (line == "fail") sys.exit(3)
    if (line == "crash") throw new RuntimeException("crash")
  }
}
