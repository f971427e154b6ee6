puts "hello, world"
line = ($stdin.gets || "").chomp
puts "stdin: #{line}"
ARGV.each { |a| puts "arg: #{a}" }
exit 3 if line == "fail"
raise "crash" if line == "crash"
