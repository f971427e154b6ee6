# Leaves processes behind that hold stdout open, in every way a shell can:
# they are killed when the main process exits, so the job ends at once.
# expect status: accepted
# expect stdout: started
# expect max_wall_ms: 1500
# expect limits: {"wall_time_ms": 20000}
sleep 1000 &
(sleep 1000 &)
nohup sleep 1000 >/dev/null 2>&1 &
setsid sh -c 'while :; do sleep 1; echo tick; done' &
echo started
