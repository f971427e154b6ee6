say "hello, world";
my $line = $*IN.get // "";
say "stdin: $line";
say "arg: $_" for @*ARGS;
exit 3 if $line eq "fail";
die "crash" if $line eq "crash";
