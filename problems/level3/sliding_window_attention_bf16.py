import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Causal sliding-window attention (as in Mistral): query i attends to keys i - window + 1 .. i."""

    def __init__(self, window: int):
        super().__init__()
        self.window = window

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        s = q.shape[-2]
        i = torch.arange(s, device=q.device)
        d = i[:, None] - i[None, :]
        mask = (d >= 0) & (d < self.window)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


batch_size = 4
num_heads = 16
seq_len = 8192
head_dim = 64
window = 1024


def get_inputs():
    shape = (batch_size, num_heads, seq_len, head_dim)
    return [torch.randn(shape, dtype=torch.bfloat16) for _ in range(3)]


def get_init_inputs():
    return [window]
