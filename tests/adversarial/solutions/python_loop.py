# Resource: an infinite loop in Python, in forward.
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, a, b):
        while True:
            pass
