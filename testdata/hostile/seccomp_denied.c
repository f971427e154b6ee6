// Syscalls execbox's seccomp profile denies, that Docker 20.10's default
// profile lets through: an AF_VSOCK socket (on VM hosts the way to the
// hypervisor's services from a network-less sandbox), io_uring_setup and
// memfd_secret. Each must fail with EPERM, under runc and under runsc (which
// applies the profile with --oci-seccomp); ordinary sockets still work, and
// so do threads and select(2): gVisor answers every denied syscall with
// EPERM (clone3 included, where glibc falls back to clone only on ENOSYS)
// and knows pselect6 as "pselect", so a profile written for Linux alone
// stopped both under runsc.
// expect status: accepted
// expect stdout: vsock EPERM\nio_uring_setup EPERM\nmemfd_secret EPERM\nunix allowed\nthread allowed\nselect allowed
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *outcome(long r) {
	if (r >= 0)
		return "allowed";
	return strerrorname_np(errno);
}

static void *thread(void *arg) { return arg; }

int main(void) {
	unsigned char params[120] = {0}; /* struct io_uring_params */
	printf("vsock %s\n", outcome(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0)));
	printf("io_uring_setup %s\n", outcome(syscall(425 /* io_uring_setup */, 4, params)));
	printf("memfd_secret %s\n", outcome(syscall(447 /* memfd_secret */, 0)));
	printf("unix %s\n", outcome(socket(AF_UNIX, SOCK_STREAM, 0)));
	pthread_t t;
	int err = pthread_create(&t, NULL, thread, NULL);
	if (err == 0)
		pthread_join(t, NULL);
	errno = err;
	printf("thread %s\n", outcome(err == 0 ? 0 : -1));
	struct timeval tv = {0, 1000};
	printf("select %s\n", outcome(select(0, NULL, NULL, NULL, &tv)));
	return 0;
}
