# Resource: allocates host memory without end, 256 MiB at a time, touching every page.
import torch
import torch.nn as nn

hoard = []


class ModelNew(nn.Module):
    def forward(self, a, b):
        while True:
            hoard.append(torch.ones(64 << 20))
