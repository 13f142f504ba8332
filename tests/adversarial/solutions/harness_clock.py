# Hostile: reaches into the worker's own timing module and slows its clock 100x, so the worker reports
# ~0.002 ms for a call that takes 0.2 ms: a claimed ~1.5x from a real ~0.015x (under the 4x that a
# ratio test between the worker's and the grader's clocks alone would let through).
import sys
import time

import torch.nn as nn

_real = time.perf_counter
timing = sys.modules.get("grader.jail.timing")
if timing is not None:
    timing._perf_counter = lambda: _real() / 100.0


class ModelNew(nn.Module):
    def forward(self, a, b):
        end = _real() + 0.0002
        while _real() < end:
            pass
        return a + b
