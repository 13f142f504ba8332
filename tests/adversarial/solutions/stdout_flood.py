# Resource: writes 1 GiB to stdout and stderr at import, then computes the right answer.
import os
import sys

import torch.nn as nn

chunk = ("flood " * 10922 + "\n").encode()  # 64 KiB
for i in range((1 << 30) // len(chunk)):
    os.write(1 if i % 2 else 2, chunk)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
