import torch
import torch.nn as nn


class Model(nn.Module):
    """A plain multi-layer perceptron classifier."""

    def __init__(self, input_size: int, layer_sizes: list, output_size: int):
        super().__init__()
        layers = []
        current = input_size
        for size in layer_sizes:
            layers += [nn.Linear(current, size), nn.ReLU()]
            current = size
        layers.append(nn.Linear(current, output_size))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


batch_size = 2048
input_size = 4096
hidden1 = 4096
hidden2 = 2048
hidden3 = 1024
output_size = 16


def get_inputs():
    return [torch.randn(batch_size, input_size)]


def get_init_inputs():
    return [input_size, [hidden1, hidden2, hidden3], output_size]
