"""KernelBench-style prompts: instructions, a worked a + b example, then the architecture to optimise.

The text is ready to paste into (or send to) an LLM; the answer it asks for is a file that
`grader check` grades directly.
"""

from __future__ import annotations

from pathlib import Path

from grader.models import ProblemMeta

EXAMPLE_MODEL = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return a + b


def get_inputs():
    # randomly generate input tensors based on the model architecture
    a = torch.randn(1, 128)
    b = torch.randn(1, 128)
    return [a, b]


def get_init_inputs():
    # randomly generate tensors required for initialization based on the model architecture
    return []
'''

EXAMPLE_NEW_CUDA = '''import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

# The CUDA kernel and a C++ wrapper that launches it.
elementwise_add_source = r"""
#include <torch/extension.h>

__global__ void elementwise_add_kernel(const float* a, const float* b, float* out, int size) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < size) {
        out[idx] = a[idx] + b[idx];
    }
}

torch::Tensor elementwise_add_cuda(torch::Tensor a, torch::Tensor b) {
    auto size = a.numel();
    auto out = torch::zeros_like(a);

    const int block_size = 256;
    const int num_blocks = (size + block_size - 1) / block_size;

    elementwise_add_kernel<<<num_blocks, block_size>>>(a.data_ptr<float>(), b.data_ptr<float>(),
                                                       out.data_ptr<float>(), size);
    return out;
}
"""

elementwise_add_cpp_source = "torch::Tensor elementwise_add_cuda(torch::Tensor a, torch::Tensor b);"

# Compile the inline CUDA code when the module is imported.
elementwise_add = load_inline(
    name="elementwise_add",
    cpp_sources=elementwise_add_cpp_source,
    cuda_sources=elementwise_add_source,
    functions=["elementwise_add_cuda"],
    verbose=False,
    extra_cflags=[""],
    extra_ldflags=[""],
)


class ModelNew(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.elementwise_add = elementwise_add

    def forward(self, a, b):
        return self.elementwise_add.elementwise_add_cuda(a, b)
'''

EXAMPLE_NEW_CPU = '''import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

# A C++ function compiled for the CPU; load_inline adds the Python binding.
elementwise_add_cpp_source = r"""
#include <torch/extension.h>

torch::Tensor elementwise_add_cpu(torch::Tensor a, torch::Tensor b) {
    a = a.contiguous();
    b = b.contiguous();
    auto out = torch::empty_like(a);
    const float* pa = a.data_ptr<float>();
    const float* pb = b.data_ptr<float>();
    float* po = out.data_ptr<float>();
    const int64_t size = a.numel();
    for (int64_t i = 0; i < size; ++i) {
        po[i] = pa[i] + pb[i];
    }
    return out;
}
"""

# Compile the inline C++ code when the module is imported.
elementwise_add = load_inline(
    name="elementwise_add_cpu",
    cpp_sources=elementwise_add_cpp_source,
    functions=["elementwise_add_cpu"],
    extra_cflags=["-O3"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.elementwise_add = elementwise_add

    def forward(self, a, b):
        return self.elementwise_add.elementwise_add_cpu(a, b)
'''

INTRO = {
    "cuda": (
        "You write custom CUDA kernels to replace the PyTorch operators in the given architecture to get speedups.\n\n"
        "You have complete freedom to choose the set of operators you want to replace. You may replace some "
        "operators with custom CUDA kernels and leave others unchanged. You may replace several operators with "
        "one custom implementation, consider operator fusion opportunities (combining multiple operators into a "
        "single kernel, for example matmul + relu), or algorithmic changes (such as online softmax). You are only "
        "limited by your imagination."),
    "cpu": (
        "You write custom C++ code for the CPU to replace the PyTorch operators in the given architecture to get "
        "speedups.\n\n"
        "You have complete freedom to choose the set of operators you want to replace. You may replace some "
        "operators with custom C++ functions and leave others unchanged, fuse several operators into one loop "
        "nest, or change the algorithm. The code is compiled with torch.utils.cpp_extension.load_inline "
        "(cpp_sources only, no CUDA)."),
}

OUTRO = {
    "cuda": ("Optimize the architecture named Model with custom CUDA operators! Name your optimized output "
             "architecture ModelNew. Output the new code in codeblocks. Please generate real code, NOT pseudocode, "
             "make sure the code compiles and is fully functional. Just output the new model code, no other text, "
             "and NO testing code!"),
    "cpu": ("Optimize the architecture named Model with custom C++ operators for the CPU! Name your optimized "
            "output architecture ModelNew. Output the new code in codeblocks. Please generate real code, NOT "
            "pseudocode, make sure the code compiles and is fully functional. Just output the new model code, no "
            "other text, and NO testing code!"),
}


def prompt_device(meta: ProblemMeta | None, requested: str | None = None) -> str:
    """'cpu' for the CPU track (or when asked), else 'cuda'."""
    if requested:
        return requested
    return "cpu" if meta is not None and meta.device == "cpu" else "cuda"


def build_prompt(problem_path: str | Path, meta: ProblemMeta | None = None, device: str | None = None) -> str:
    """The full prompt for one problem file. `device` is 'cuda' or 'cpu' (default: from the metadata)."""
    device = prompt_device(meta, device)
    source = Path(problem_path).read_text().rstrip() + "\n"
    example_new = EXAMPLE_NEW_CPU if device == "cpu" else EXAMPLE_NEW_CUDA
    kind = "custom C++ CPU" if device == "cpu" else "custom CUDA"
    parts = [
        INTRO[device],
        "",
        "Here's an example to show you the syntax of inline embedding custom operators in torch. "
        "The example given architecture is:",
        "",
        "```python",
        EXAMPLE_MODEL.rstrip(),
        "```",
        "",
        f"The example new architecture with {kind} kernels looks like this:",
        "",
        "```python",
        example_new.rstrip(),
        "```",
        "",
        "You are given the following architecture:",
        "",
        "```python",
        source.rstrip(),
        "```",
        "",
    ]
    notes = []
    if meta is not None:
        if meta.dtype != "float32":
            notes.append(f"Inputs are {meta.dtype}.")
        if meta.atol is not None or meta.rtol is not None:
            notes.append(f"Outputs are compared with atol={meta.atol if meta.atol is not None else 'default'}, "
                         f"rtol={meta.rtol if meta.rtol is not None else 'default'}.")
    notes.append("ModelNew is constructed with the same get_init_inputs() under the same random seed as Model, so "
                 "parameters created in the same order (and with the same shapes) get the same values.")
    if device == "cuda":
        notes.append("The target GPU is an NVIDIA H100 (sm_90); pass extra_cuda_cflags=['-O3', '-arch=sm_90'] "
                     "if you like.")
    parts += notes + ["", OUTRO[device], ""]
    return "\n".join(parts)
