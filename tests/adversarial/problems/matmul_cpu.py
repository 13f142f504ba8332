# A CPU problem heavy enough (~30-100 ms a call) that work skipped while being timed shows on a clock.
import torch
import torch.nn as nn

N = 1024


class Model(nn.Module):
    def forward(self, a, b):
        return a @ b


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
