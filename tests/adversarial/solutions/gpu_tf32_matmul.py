# Reduced precision, and not its own kernel: C++ that turns on TF32 for cuBLAS and calls at::matmul.
# It builds an extension, so the static check sees a custom kernel; the precision audit and the profiler
# (no kernel it ran is defined in this file) must catch it, and --strict must refuse it.
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
#include <torch/extension.h>

torch::Tensor fast_matmul(torch::Tensor a, torch::Tensor b) {
    at::globalContext().setAllowTF32CuBLAS(true);
    return at::matmul(a, b);
}
"""

ext = load_inline(name="kg_adv_tf32_matmul", cpp_sources=cpp_source, functions=["fast_matmul"], verbose=False)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return ext.fast_matmul(a, b)
