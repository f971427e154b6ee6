print("hello, world")
local line = io.read("l") or ""
print("stdin: " .. line)
for i = 1, #arg do print("arg: " .. arg[i]) end
if line == "fail" then os.exit(3) end
if line == "crash" then error("crash") end
