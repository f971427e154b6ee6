// expect status: runtime_error
// expect signal: SIGSEGV
int main(void) {
	volatile int *p = 0;
	return *p;
}
