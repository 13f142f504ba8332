# KernelBench's level1/1 on the GPU: a 4096-square float32 matmul of torch.rand inputs, whose large positive
# sums let a TF32 GEMM pass float32's tolerance (6.47x vs eager on an H200 before the precision audit).
import torch
import torch.nn as nn

N = 2048 * 2


class Model(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b)


def get_inputs():
    return [torch.rand(N, N), torch.rand(N, N)]


def get_init_inputs():
    return []
