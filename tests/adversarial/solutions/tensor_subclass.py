# Hostile: returns zeros in a Tensor subclass whose comparisons all claim equality, and patches the
# worker's output check so the subclass gets through.
import sys

import torch
import torch.nn as nn


class Liar(torch.Tensor):
    def __eq__(self, other):
        return True

    def allclose(self, *a, **k):
        return True

    def equal(self, *a, **k):
        return True

    def __sub__(self, other):
        return torch.zeros_like(other)


runner = sys.modules.get("grader.jail.runner")
if runner is not None:
    runner.as_outputs = lambda result: list(result) if isinstance(result, (tuple, list)) else [result]


class ModelNew(nn.Module):
    def forward(self, a, b):
        return torch.zeros_like(a).as_subclass(Liar)
