import torch
import torch.nn as nn


class Model(nn.Module):
    """Matrix-vector product A @ x with x a column."""

    def __init__(self):
        super().__init__()

    def forward(self, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, x)


M = 8192
K = 8192


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, 1)]


def get_init_inputs():
    return []
