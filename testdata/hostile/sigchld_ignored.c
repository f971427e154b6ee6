// Escapes per-process CPU accounting: with SIGCHLD ignored the kernel reaps
// the children itself, so their CPU time reaches no wait4 rusage, and each
// child lives too briefly to show much in /proc. Thirty children burn 300 ms
// each, one after another, under a 1 s CPU limit (before, six of them were
// accepted with a cpu_time_ms of 18). Under runc the supervisor accounts the
// sandbox's cgroup and ends the step at 1 s. gVisor (20221219) shows no
// cgroup inside the sandbox: there the executor reads the sandbox's CPU
// usage from the host (Docker's stats) and removes the sandbox once the job
// passes its budget (1.5 x its CPU limits + 2 s), before the 9 s are spent.
// expect status: time_limit_exceeded
// expect limit_exceeded: cpu
// expect limits: {"cpu_time_ms": 1000, "wall_time_ms": 15000}
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void) {
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
	signal(SIGCHLD, SIG_IGN);
	for (int i = 0; i < 30; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			volatile unsigned long x = 0;
			while (cpu_seconds() < 0.3)
				x++;
			_exit(0);
		}
		while (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
			usleep(1000);
	}
	printf("done\n");
	return 0;
}
