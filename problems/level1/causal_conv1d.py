import torch
import torch.nn as nn


class Model(nn.Module):
    """Depthwise causal 1-D convolution (the short convolution of Mamba-style blocks): each channel is
    filtered by its own kernel of 4 taps, looking only at the past."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, groups=channels, padding=kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)[..., : x.shape[-1]]


batch_size = 8
channels = 2048
length = 4096
kernel_size = 4


def get_inputs():
    return [torch.randn(batch_size, channels, length)]


def get_init_inputs():
    return [channels, kernel_size]
