import torch
import torch.nn as nn


class Model(nn.Module):
    """One Adam step (torch.optim.Adam's update, no weight decay) at step 10, written functionally:
    returns the new parameters and both moment buffers."""

    def __init__(self, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, step: int = 10):
        super().__init__()
        self.lr, self.beta1, self.beta2, self.eps, self.step = lr, beta1, beta2, eps, step

    def forward(self, p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor):
        m = self.beta1 * m + (1 - self.beta1) * g
        v = self.beta2 * v + (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** self.step)
        v_hat = v / (1 - self.beta2 ** self.step)
        p = p - self.lr * m_hat / (torch.sqrt(v_hat) + self.eps)
        return p, m, v


num_params = 33554432


def get_inputs():
    p = torch.randn(num_params)
    g = torch.randn(num_params)
    m = 0.1 * torch.randn(num_params)
    v = 0.01 * torch.rand(num_params) + 1e-4
    return [p, g, m, v]


def get_init_inputs():
    return []
