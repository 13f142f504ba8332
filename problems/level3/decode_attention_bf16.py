import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Decoding attention: one new query token per sequence attends to its whole key/value cache."""

    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v)


batch_size = 16
num_heads = 16
cache_len = 8192
head_dim = 128


def get_inputs():
    return [torch.randn(batch_size, num_heads, 1, head_dim, dtype=torch.bfloat16),
            torch.randn(batch_size, num_heads, cache_len, head_dim, dtype=torch.bfloat16),
            torch.randn(batch_size, num_heads, cache_len, head_dim, dtype=torch.bfloat16)]


def get_init_inputs():
    return []
