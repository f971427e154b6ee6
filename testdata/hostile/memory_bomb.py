# Allocates without end: memory_limit_exceeded, not a generic kill.
# expect status: memory_limit_exceeded
# expect limit_exceeded: memory
# expect limits: {"memory_kb": 65536}
chunks = []
while True:
    chunks.append(bytearray(1 << 20))
