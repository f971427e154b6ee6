// Raises its own process limit to the hard limit, then forks 40 children
// under "processes": 2. The hard limit used to be the larger of the run and
// compile limits (64), so this forked all 40 and was accepted; the hard
// limit now equals the step's own, so the raise fails and so do the forks.
// expect status: accepted
// expect stdout: raise denied\nforked fewer than 40
// expect limits: {"processes": 2}
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
	struct rlimit rl;
	getrlimit(RLIMIT_NPROC, &rl);
	rlim_t want = rl.rlim_max > 64 ? rl.rlim_max : 64;
	rl.rlim_cur = want;
	rl.rlim_max = want;
	printf("raise %s\n", setrlimit(RLIMIT_NPROC, &rl) == 0 && want > 2 ? "succeeded" : "denied");
	int n = 0;
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			sleep(1);
			_exit(0);
		}
		if (pid > 0)
			n++;
	}
	printf("forked %s\n", n >= 40 ? "all 40" : "fewer than 40");
	return 0;
}
