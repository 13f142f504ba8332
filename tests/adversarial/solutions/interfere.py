# Hidden work / interference: starts CPU hogs at import that would slow the baselines timed after it
# (inflating its speedup) if anything of the candidate were still running then.
import os

import torch.nn as nn

MARKER = "{{MARKER}}"
for _ in range(2):
    if os.fork() == 0:
        os.setsid()
        os.execv("/bin/sh", ["/bin/sh", "-c", f"while :; do :; done # {MARKER}"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
