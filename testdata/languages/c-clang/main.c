#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
	char line[256] = "";
	printf("hello, world\n");
	if (fgets(line, sizeof line, stdin)) line[strcspn(line, "\n")] = 0;
	printf("stdin: %s\n", line);
	for (int i = 1; i < argc; i++) printf("arg: %s\n", argv[i]);
	fflush(stdout);
	if (strcmp(line, "fail") == 0) return 3;
	if (strcmp(line, "crash") == 0) abort();
	return 0;
}
