// Allocates and touches memory as fast as it can.
// expect status: memory_limit_exceeded
// expect limit_exceeded: memory
// expect limits: {"memory_kb": 65536}
#include <stdlib.h>
#include <string.h>
int main(void) {
	for (;;) {
		char *p = malloc(16 << 20);
		if (p) memset(p, 1, 16 << 20);
	}
}
