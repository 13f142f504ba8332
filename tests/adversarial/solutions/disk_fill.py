# Resource: fills every writable place it can find, in 16 MiB blocks, 64 files per place, and tries to
# leave files outside its own folders ({{ESCAPE}} names them; the test checks none appear on the host).
import os
import tempfile

import torch.nn as nn

BLOCK = b"\0" * (16 << 20)
wrote = []
for path in {{ESCAPE}}:
    try:
        with open(path, "wb") as f:
            f.write(b"escaped")
        wrote.append(path)
    except OSError:
        pass
print("DISK-FILL wrote outside:", wrote, flush=True)


def fill(folder):
    for i in range(64):
        try:
            with open(os.path.join(folder, f"fill-{i}"), "wb") as f:
                for _ in range(8):
                    f.write(BLOCK)
        except OSError:
            pass


class ModelNew(nn.Module):
    def forward(self, a, b):
        for folder in (tempfile.gettempdir(), os.environ.get("HOME", "/tmp"), "/dev/shm", "/tmp"):
            fill(folder)
        return a + b
