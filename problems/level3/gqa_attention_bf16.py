import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Causal grouped-query attention: 32 query heads share 8 key/value heads (4 per group)."""

    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        group = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


batch_size = 4
num_heads = 32
num_kv_heads = 8
seq_len = 2048
head_dim = 64


def get_inputs():
    return [torch.randn(batch_size, num_heads, seq_len, head_dim, dtype=torch.bfloat16),
            torch.randn(batch_size, num_kv_heads, seq_len, head_dim, dtype=torch.bfloat16),
            torch.randn(batch_size, num_kv_heads, seq_len, head_dim, dtype=torch.bfloat16)]


def get_init_inputs():
    return []
