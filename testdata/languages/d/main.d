import std.stdio;
import std.string : chomp;

int main(string[] args) {
	writeln("hello, world");
	string line = readln().chomp;
	writeln("stdin: ", line);
	foreach (a; args[1 .. $]) writeln("arg: ", a);
	stdout.flush();
	if (line == "fail") return 3;
	if (line == "crash") {
		int[] empty;
		return empty[5];
	}
	return 0;
}
