# A GPU problem heavy enough (~20 ms a call in fp32 on an H100) that hidden or skipped work shows on a clock.
import torch
import torch.nn as nn

N = 8192


class Model(nn.Module):
    def forward(self, a, b):
        return a @ b


def get_inputs():
    return [torch.randn(N, N, device="cuda"), torch.randn(N, N, device="cuda")]


def get_init_inputs():
    return []
