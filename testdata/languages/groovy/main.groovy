println "hello, world"
def line = System.in.newReader().readLine() ?: ""
println "stdin: $line"
args.each { println "arg: $it" }
if (line == "fail") System.exit(3)
if (line == "crash") throw new RuntimeException("crash")
