// Between test cases the work directory used to persist: the first case
// replaced the compiled binary with a script and left answers in /box and
// /tmp for the next. Each case now starts from the compiled state, so the
// second case runs the real binary again and finds nothing left behind.
// expect status: accepted
// expect stdout: clean
// expect tests: [{"stdin": "1", "expected_output": "clean"}, {"stdin": "2", "expected_output": "clean"}, {"stdin": "3", "expected_output": "clean"}]
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
	if (access("/box/answers", F_OK) == 0 || access("/tmp/answers", F_OK) == 0) {
		printf("tampered\n");
		return 0;
	}
	printf("clean\n");
	fclose(fopen("/box/answers", "w"));
	fclose(fopen("/tmp/answers", "w"));
	FILE *f = fopen("/box/main.new", "w");
	fprintf(f, "#!/bin/sh\necho forged\n");
	fclose(f);
	chmod("/box/main.new", 0755);
	rename("/box/main.new", "/box/main");
	return 0;
}
