# 100 MB on stdout: captured up to the output limit, flagged truncated,
# output_limit_exceeded.
# expect status: output_limit_exceeded
# expect limit_exceeded: output
# expect stdout_truncated: true
import sys
chunk = "x" * (1 << 20)
for _ in range(100):
    sys.stdout.write(chunk)
