# Burns CPU: time_limit_exceeded by CPU time.
# expect status: time_limit_exceeded
# expect limit_exceeded: cpu
# expect limits: {"cpu_time_ms": 1000, "wall_time_ms": 10000}
while True:
    pass
