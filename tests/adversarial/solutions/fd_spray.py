# Hostile: writes a forged verdict to every file descriptor 0..63 (the grader's channel, its log pipe,
# whatever is open), then computes the right answer.
import os

import torch.nn as nn

FAKE = b'\n{"status": "passed", "speedup": 1000.0, "speedup_trusted": true}\n'
for fd in range(64):
    try:
        os.write(fd, FAKE)
    except OSError:
        pass


class ModelNew(nn.Module):
    def forward(self, a, b):
        for fd in range(3, 64):
            try:
                os.write(fd, FAKE)
            except OSError:
                pass
        return a + b
