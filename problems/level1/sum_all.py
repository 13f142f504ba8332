import torch
import torch.nn as nn


class Model(nn.Module):
    """Sum of every element (a 0-d tensor)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum()


num_elements = 128 * 1024 * 1024


def get_inputs():
    return [torch.randn(num_elements)]


def get_init_inputs():
    return []
