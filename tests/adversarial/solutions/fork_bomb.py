# Resource: a fork bomb whose children leave the worker's session and process group, with a marker in
# their command line so the test can look for survivors. Each process forks a bounded number of times
# (safety net for a shared machine if the sandbox failed: at most 2**13 processes).
import os
import time

import torch.nn as nn

MARKER = "{{MARKER}}"


def bomb(depth):
    for _ in range(depth):
        try:
            pid = os.fork()
        except OSError:
            time.sleep(0.01)
            continue
        if pid == 0:
            try:
                os.setsid()
            except OSError:
                pass
            depth -= 1
            if depth <= 0:
                os.execv("/bin/sleep", [MARKER, "3600"])
            continue
    os.execv("/bin/sleep", [MARKER, "3600"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        if os.fork() == 0:
            bomb(13)
        time.sleep(3600)
        return a + b
