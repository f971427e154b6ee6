BEGIN {
	print "hello, world"
	line = ""
	getline line < "-"
	print "stdin: " line
	for (i = 1; i < ARGC; i++) print "arg: " ARGV[i]
	if (line == "fail") exit 3
	if (line == "crash") { zero = 0; print 1 / zero }
	exit 0
}
