use strict;
use warnings;

print "hello, world\n";
my $line = <STDIN> // "";
chomp $line;
print "stdin: $line\n";
print "arg: $_\n" for @ARGV;
exit 3 if $line eq "fail";
die "crash\n" if $line eq "crash";
