# Fills anonymous shared memory that no process maps (memfd): the kernel
# charges it to the container's memory cgroup but it shows in no process's
# RSS, so the supervisor's polling cannot see it and only the cgroup's OOM
# killer stops it. Each memfd is capped by the file size limit, so it takes
# many. The program must be stopped and the supervisor must survive.
# expect status: memory_limit_exceeded
# expect limit_exceeded: memory
# expect limits: {"memory_kb": 65536}
# Under gVisor all of the sandbox's memory is the sentry's, so the OOM
# killer ends the whole sandbox: the verdict holds, the run step is lost.
# expect runsc_run: optional
import os
chunk = b"x" * (1 << 20)
fds = []
while True:
    fd = os.memfd_create("bomb")
    fds.append(fd)
    try:
        for _ in range(32):
            os.write(fd, chunk)
    except OSError as e:
        print(len(fds), e, flush=True)
