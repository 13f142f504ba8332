# Hostile, subtly: slows its worker's own clock to 0.7x, so every timing the worker reports is 30% short:
# within what a ratio test between two clocks would forgive (an honest 0.9x reads as 1.3x). The grader's own
# clock, in another process, is not reached.
import sys
import time

import torch.nn as nn

_real = time.perf_counter
timing = sys.modules.get("grader.jail.timing")
if timing is not None:
    timing._perf_counter = lambda: _real() * 0.7


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a @ b
