# Creates empty files until it cannot: without an inode cap on the tmpfs
# each costs kernel memory charged to the sandbox and millions of them ended
# as memory_limit_exceeded; with nr_inodes the file system is full first.
# expect status: accepted
# expect stdout: ENOSPC
# gVisor ignores nr_inodes: the files fill the sentry's memory, or the time.
# expect runsc_status: memory_limit_exceeded|time_limit_exceeded
# expect runsc_run: optional
# expect runsc_stdout:
import errno, os
n = 0
try:
    while True:
        os.close(os.open("/box/f%d" % n, os.O_CREAT | os.O_WRONLY, 0o644))
        n += 1
except OSError as e:
    print(errno.errorcode[e.errno])
