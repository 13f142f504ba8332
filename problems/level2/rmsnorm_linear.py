import torch
import torch.nn as nn


class Model(nn.Module):
    """RMSNorm followed by a bias-free linear projection."""

    def __init__(self, dim: int, out_features: int, eps: float = 1e-6):
        super().__init__()
        self.norm_weight = nn.Parameter(1.0 + 0.1 * torch.randn(dim))
        self.proj = nn.Linear(dim, out_features, bias=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.norm_weight
        return self.proj(h)


tokens = 4096
dim = 4096
out_features = 4096


def get_inputs():
    return [torch.randn(tokens, dim) * 3]


def get_init_inputs():
    return [dim, out_features]
