# Policy (GPU): builds and calls a custom kernel that does nothing useful (a copy), while PyTorch's own
# kernels do the real work. The profiler hint should say so.
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = """
#include <torch/extension.h>
__global__ void touch(float* p) { if (threadIdx.x == 0 && blockIdx.x == 0) p[0] = p[0]; }
torch::Tensor touch_it(torch::Tensor a) { touch<<<1, 32>>>(a.data_ptr<float>()); return a; }
"""
ext = load_inline(name="kg_adv_decoy", cpp_sources="torch::Tensor touch_it(torch::Tensor a);",
                  cuda_sources=cuda_source, functions=["touch_it"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        return torch.add(ext.touch_it(a), b)
