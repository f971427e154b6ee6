# Sleeps: time_limit_exceeded by wall time, with almost no CPU used.
# expect status: time_limit_exceeded
# expect limit_exceeded: wall
# expect max_cpu_ms: 200
# gVisor counts a thread's wait for a busy host CPU as its CPU time
# (210 ms measured at load 30): still far below the 1500 ms wall limit.
# expect runsc_max_cpu_ms: 600
# expect limits: {"wall_time_ms": 1500}
sleep 1000
