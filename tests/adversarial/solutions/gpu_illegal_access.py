# Resource (GPU): a kernel that writes far outside its buffer (an illegal memory access).
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = """
#include <torch/extension.h>
__global__ void scribble(float* p) { p[threadIdx.x + (1ll << 40)] = 1.0f; }
torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    scribble<<<1, 32>>>(a.data_ptr<float>());
    cudaDeviceSynchronize();
    return a + b;
}
"""
ext = load_inline(name="kg_adv_illegal", cpp_sources="torch::Tensor add(torch::Tensor a, torch::Tensor b);",
                  cuda_sources=cuda_source, functions=["add"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        return ext.add(a, b)
