puts "hello, world"
if {[gets stdin line] < 0} { set line "" }
puts "stdin: $line"
foreach a $argv { puts "arg: $a" }
if {$line eq "fail"} { exit 3 }
if {$line eq "crash"} { error "crash" }
