# Sleeps: time_limit_exceeded by wall time, with almost no CPU used.
# expect status: time_limit_exceeded
# expect limit_exceeded: wall
# expect max_cpu_ms: 200
# expect limits: {"wall_time_ms": 1500}
sleep 1000
