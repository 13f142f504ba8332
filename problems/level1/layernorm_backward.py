import torch
import torch.nn as nn


class Model(nn.Module):
    """Input gradient of LayerNorm over the last dimension: given x and dL/dy, return dL/dx (the
    statistics are recomputed from x)."""

    def __init__(self, hidden: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        rstd = torch.rsqrt(x.var(dim=-1, unbiased=False, keepdim=True) + self.eps)
        xhat = (x - mean) * rstd
        g = dy * self.weight
        return rstd * (g - g.mean(dim=-1, keepdim=True) - xhat * (g * xhat).mean(dim=-1, keepdim=True))


tokens = 16384
hidden = 4096


def get_inputs():
    return [torch.randn(tokens, hidden) * 2 + 0.5, torch.randn(tokens, hidden)]


def get_init_inputs():
    return [hidden]
