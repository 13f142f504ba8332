# Resource (GPU): a kernel that never ends.
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = """
#include <torch/extension.h>
__global__ void spin(volatile int* flag) { while (*flag == 0) {} }
torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    auto flag = torch::zeros({1}, a.options().dtype(torch::kInt32));
    spin<<<1, 1>>>(flag.data_ptr<int>());
    cudaDeviceSynchronize();
    return a + b;
}
"""
ext = load_inline(name="kg_adv_spin", cpp_sources="torch::Tensor add(torch::Tensor a, torch::Tensor b);",
                  cuda_sources=cuda_source, functions=["add"])


class ModelNew(nn.Module):
    def forward(self, a, b):
        return ext.add(a, b)
