# The classic shell fork bomb, then wait: every process is killed when a
# limit ends the job (time, or the memory its copies hold together: the
# memory limit covers the resident memory of all the step's processes);
# nothing survives it and the executor stays healthy.
# expect status: time_limit_exceeded|memory_limit_exceeded
# expect limits: {"wall_time_ms": 3000}
bomb() { bomb | bomb & }
bomb
sleep 100
