import torch
import torch.nn as nn


class Model(nn.Module):
    """One Jacobi sweep of a 5-point stencil: each interior point becomes the mean of itself and its four
    neighbours; the boundary is copied."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        y[1:-1, 1:-1] = 0.2 * (x[1:-1, 1:-1] + x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])
        return y


height = 2048
width = 2048


def get_inputs():
    return [torch.randn(height, width)]


def get_init_inputs():
    return []
