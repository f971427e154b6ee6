# No network: only the loopback interface, no route out, no name service.
# (192.0.2.1 is TEST-NET-1, a documentation address; no packet can leave.)
# expect status: accepted
# expect stdout: interfaces ['lo']\nconnect ENETUNREACH\nresolve failed
# gVisor's network stack (runsc --network=none) says "no route to host":
# expect runsc_stdout: interfaces ['lo']\nconnect EHOSTUNREACH\nresolve failed
import errno, socket
print("interfaces", sorted(name for _, name in socket.if_nameindex()))
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect(("192.0.2.1", 80))
    print("connect succeeded")
except OSError as e:
    print("connect", errno.errorcode.get(e.errno, e))
try:
    socket.getaddrinfo("example.com", 80)
    print("resolve succeeded")
except OSError:
    print("resolve failed")
