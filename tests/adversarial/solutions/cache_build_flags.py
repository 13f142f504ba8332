# A build that would write outside its own output (or run a plugin) through compiler flags.
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = """
#include <torch/extension.h>
torch::Tensor add(torch::Tensor a, torch::Tensor b) { return a + b; }
"""

ext = load_inline(name="kg_adv_flags", cpp_sources=source, functions=["add"], extra_cflags={{FLAGS}})


class ModelNew(nn.Module):
    def forward(self, a, b):
        return ext.add(a, b)
