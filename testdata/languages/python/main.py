import sys

print("hello, world")
line = sys.stdin.readline().rstrip("\n")
print("stdin: " + line)
for a in sys.argv[1:]:
    print("arg: " + a)
if line == "fail":
    sys.exit(3)
if line == "crash":
    raise RuntimeError("crash")
