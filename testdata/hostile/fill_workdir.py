# Fills the work directory: writes fail with ENOSPC (the tmpfs is capped),
# the program carries on. The test then checks the next job starts clean.
# expect status: accepted
# expect stdout: ENOSPC
import errno
try:
    with open("big", "wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
except OSError as e:
    print(errno.errorcode[e.errno])
