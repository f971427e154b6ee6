# Lowers its OOM score from 1000 back to the supervisor's, so that the
# kernel's OOM killer might take the supervisor instead of it (the job would
# then lose its result). Without CAP_SYS_RESOURCE nothing can refuse that
# write, so the supervisor watches for it and ends the step at once: the
# program is killed before it can fill memory, and the job keeps its result.
# expect status: runtime_error
# expect signal: SIGKILL
# expect stdout: oom_score_adj 1000\n0 lowered
# expect limits: {"wall_time_ms": 10000}
import time
with open("/proc/self/oom_score_adj") as f:
    print("oom_score_adj", f.read().strip(), flush=True)
with open("/proc/self/oom_score_adj", "w") as f:
    f.write("0")
print("0 lowered", flush=True)
time.sleep(5)
print("not stopped", flush=True)
