import torch
import torch.nn as nn


class Model(nn.Module):
    """Rotary position embedding (rotate-half form) applied to query heads."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin


batch_size = 8
num_heads = 32
seq_len = 2048
head_dim = 128


def get_inputs():
    inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    ang = torch.outer(torch.arange(seq_len).float(), inv)
    ang = torch.cat((ang, ang), dim=-1)
    return [torch.randn(batch_size, num_heads, seq_len, head_dim), ang.cos(), ang.sin()]


def get_init_inputs():
    return []
