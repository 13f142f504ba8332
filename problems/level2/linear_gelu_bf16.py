import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """bfloat16 linear layer (weight stored as out x in) followed by tanh-approximated GELU."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features, dtype=torch.bfloat16) * in_features ** -0.5)
        self.bias = nn.Parameter(0.1 * torch.randn(out_features, dtype=torch.bfloat16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(F.linear(x, self.weight, self.bias), approximate="tanh")


batch_size = 4096
in_features = 4096
out_features = 8192


def get_inputs():
    return [torch.randn(batch_size, in_features, dtype=torch.bfloat16)]


def get_init_inputs():
    return [in_features, out_features]
