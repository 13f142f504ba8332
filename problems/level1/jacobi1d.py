import torch
import torch.nn as nn


class Model(nn.Module):
    """One Jacobi sweep of a 3-point stencil: each interior point becomes the mean of itself and its two
    neighbours; both ends are copied."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        y[1:-1] = (x[:-2] + x[1:-1] + x[2:]) / 3.0
        return y


length = 64 * 1024 * 1024


def get_inputs():
    return [torch.randn(length)]


def get_init_inputs():
    return []
