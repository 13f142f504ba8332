import torch
import torch.nn as nn


class Model(nn.Module):
    """One SGD step with momentum and weight decay (torch.optim.SGD's update, dampening 0), functionally:
    returns the new parameters and momentum buffer."""

    def __init__(self, lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 1e-2):
        super().__init__()
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay

    def forward(self, p: torch.Tensor, g: torch.Tensor, buf: torch.Tensor):
        d = g + self.weight_decay * p
        buf = self.momentum * buf + d
        return p - self.lr * buf, buf


num_params = 32 * 1024 * 1024


def get_inputs():
    return [torch.randn(num_params), torch.randn(num_params), 0.1 * torch.randn(num_params)]


def get_init_inputs():
    return []
