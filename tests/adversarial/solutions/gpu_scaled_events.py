# Hostile, subtly, on the GPU: every CUDA-event interval the worker's harness reads is scaled to 0.7x, so the
# timing it reports is 30% short and an honest ~1x reads ~1.4x. The grader's own clock, in another process,
# is not reached.
import sys

import torch
import torch.nn as nn

_real = torch.cuda.Event.elapsed_time
timing = sys.modules.get("grader.jail.timing")
if timing is not None:
    timing._elapsed = lambda start, end: _real(start, end) * 0.7


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a @ b
