IO.puts("hello, world")
line =
  case IO.gets("") do
    :eof -> ""
    l -> String.trim_trailing(l, "\n")
  end
IO.puts("stdin: " <> line)
Enum.each(System.argv(), fn a -> IO.puts("arg: " <> a) end)
if line == "fail", do: System.halt(3)
if line == "crash", do: raise "crash"
