import torch
import torch.nn as nn


class Model(nn.Module):
    """Segment sum: add each row of src into out[index[i]] (torch.index_add into zeros)."""

    def __init__(self, num_segments: int):
        super().__init__()
        self.num_segments = num_segments

    def forward(self, src: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(self.num_segments, src.shape[1], dtype=src.dtype, device=src.device)
        return out.index_add_(0, index, src)


num_rows = 262144
dim = 256
num_segments = 4096


def get_inputs():
    return [torch.randn(num_rows, dim), torch.randint(0, num_segments, (num_rows,))]


def get_init_inputs():
    return [num_segments]
