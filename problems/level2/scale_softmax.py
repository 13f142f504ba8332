import torch
import torch.nn as nn


class Model(nn.Module):
    """Attention scores: softmax(Q K^T * scale) for many heads, materialised."""

    def __init__(self, head_dim: int):
        super().__init__()
        self.scale = head_dim ** -0.5

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        return torch.softmax(scores, dim=-1)


batch_heads = 64
seq_len = 1024
head_dim = 64


def get_inputs():
    return [torch.randn(batch_heads, seq_len, head_dim), torch.randn(batch_heads, seq_len, head_dim)]


def get_init_inputs():
    return [head_dim]
