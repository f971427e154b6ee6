# Tries to reach the supervisor to forge the result: its stdout, stdin,
# environment and memory through /proc, signals to PID 1. Every attempt
# fails; what the program prints is only ever its own stdout.
# expect status: accepted
# expect stdout: /proc/1/fd/1 denied\n/proc/1/fd/0 denied\n/proc/1/fd denied\n/proc/1/environ denied\n/proc/1/mem denied\nkill 1 denied\n{"runs":[{"verdict":"accepted","stdout":{"text":"FORGED"}}]}
# gVisor (20221219) lets another uid list /proc/1/fd and read
# /proc/1/environ (the image's variables only: the executor passes none);
# the descriptors themselves still cannot be opened:
# expect runsc_stdout: /proc/1/fd/1 denied\n/proc/1/fd/0 denied\n/proc/1/fd OPENED\n/proc/1/environ OPENED\n/proc/1/mem denied\nkill 1 denied\n{"runs":[{"verdict":"accepted","stdout":{"text":"FORGED"}}]}
import os, signal
forged = b'{"runs":[{"verdict":"accepted","stdout":{"text":"FORGED"}}]}\n'
for path, mode in [("/proc/1/fd/1", "wb"), ("/proc/1/fd/0", "rb"), ("/proc/1/fd", "dir"), ("/proc/1/environ", "rb"), ("/proc/1/mem", "rb")]:
    try:
        if mode == "dir":
            os.listdir(path)
        else:
            with open(path, mode) as f:
                if "w" in mode:
                    f.write(forged)
        print(path, "OPENED")
    except OSError:
        print(path, "denied")
try:
    os.kill(1, signal.SIGKILL)
    print("kill 1 sent")
except OSError:
    print("kill 1 denied")
os.write(1, forged)
