// A fork bomb: forks until the process limit, and every copy keeps forking.
// The sandbox survives (RLIMIT_NPROC below the container's pids limit keeps
// room for the supervisor) and the job ends on its time limit.
// expect status: time_limit_exceeded
#include <unistd.h>
int main(void) {
	for (;;) fork();
}
