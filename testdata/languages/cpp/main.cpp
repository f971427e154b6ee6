#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char **argv) {
	std::cout << "hello, world\n";
	std::string line;
	std::getline(std::cin, line);
	std::cout << "stdin: " << line << "\n";
	for (int i = 1; i < argc; i++) std::cout << "arg: " << argv[i] << "\n";
	std::cout.flush();
	if (line == "fail") return 3;
	if (line == "crash") std::abort();
	return 0;
}
