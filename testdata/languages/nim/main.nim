import os

echo "hello, world"
var line = ""
try:
  line = stdin.readLine()
except EOFError:
  discard
echo "stdin: ", line
for i in 1..paramCount():
  echo "arg: ", paramStr(i)
if line == "fail":
  quit(3)
if line == "crash":
  var empty: seq[int] = @[]
  echo empty[5]
