# Hostile: stops every public clock and makes CUDA events report ~0, then takes 2 ms a call.
import time

import torch
import torch.nn as nn

_real = time.perf_counter
time.perf_counter = lambda: 0.0
time.perf_counter_ns = lambda: 0
time.time = lambda: 0.0
time.process_time = lambda: 0.0
torch.cuda.Event.elapsed_time = lambda self, other: 1e-6
torch.cuda.synchronize = lambda *a, **k: None


class ModelNew(nn.Module):
    def forward(self, a, b):
        end = _real() + 0.002
        while _real() < end:
            pass
        return a + b
