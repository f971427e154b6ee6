puts "hello, world"
line = (gets || "").chomp
puts "stdin: #{line}"
ARGV.each { |a| puts "arg: #{a}" }
STDOUT.flush
exit 3 if line == "fail"
raise "crash" if line == "crash"
