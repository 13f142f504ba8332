# Resource: sleeps for an hour at import (the compile phase).
import time

import torch.nn as nn

time.sleep(3600)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
