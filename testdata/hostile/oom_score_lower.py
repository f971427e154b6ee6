# Lowers its OOM score from 1000 back to the floor it shares with the
# supervisor, so that the kernel's OOM killer might take the supervisor
# instead of it (the job would then lose its result). No capability can
# raise that floor in a sandbox, so the program runs confined by Landlock:
# it cannot open /proc/self/oom_score_adj for writing, and its score stays
# 1000 (before, the write went through and the supervisor could only kill
# the step when its 5 ms poll saw it, after the program had its chance).
# expect status: accepted
# expect stdout: oom_score_adj 1000\nlower denied\noom_score_adj 1000
# expect limits: {"wall_time_ms": 10000}
# gVisor has no Landlock, and there the host's OOM killer sees only the
# sandbox's own processes (it kills all of it): the score is meaningless,
# and the supervisor's poll still kills a program that lowers it.
# expect runsc_status: runtime_error
# expect runsc_signal: SIGKILL
# expect runsc_stdout: oom_score_adj 1000\n0 lowered
import time


def adj():
    with open("/proc/self/oom_score_adj") as f:
        return f.read().strip()


print("oom_score_adj", adj(), flush=True)
try:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("0")
    print("0 lowered", flush=True)
except PermissionError:
    print("lower denied", flush=True)
time.sleep(1)  # the supervisor polls every 5 ms
print("oom_score_adj", adj(), flush=True)
