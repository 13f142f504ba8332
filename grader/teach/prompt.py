"""KernelBench-style prompts: instructions, a worked a + b example, then the architecture to optimise.

The text is ready to paste into (or send to) an LLM; the answer it asks for is a file that
`grader check` grades directly.
"""

from __future__ import annotations

from pathlib import Path

from grader.errors import UsageError
from grader.jail import backends
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

EXAMPLE_NEW_TRITON = '''import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def elementwise_add_kernel(a_ptr, b_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(a_ptr + offs, mask=mask)
    b = tl.load(b_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, a + b, mask=mask)


def elementwise_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a.contiguous(), b.contiguous()
    out = torch.empty_like(a)
    n = a.numel()
    BLOCK = 1024
    elementwise_add_kernel[(triton.cdiv(n, BLOCK),)](a, b, out, n, BLOCK=BLOCK)
    return out


class ModelNew(nn.Module):
    def __init__(self) -> None:
        super().__init__()

    def forward(self, a, b):
        return elementwise_add(a, b)
'''

EXAMPLE_NEW_CUTE = '''import cutlass
import cutlass.cute as cute
import torch
import torch.nn as nn
from cutlass.cute.runtime import from_dlpack


@cute.kernel
def elementwise_add_kernel(gA: cute.Tensor, gB: cute.Tensor, gC: cute.Tensor):
    tidx, _, _ = cute.arch.thread_idx()
    bidx, _, _ = cute.arch.block_idx()
    bdim, _, _ = cute.arch.block_dim()
    i = bidx * bdim + tidx
    m, n = gA.shape
    if i < m * n:
        gC[i // n, i % n] = gA[i // n, i % n] + gB[i // n, i % n]


@cute.jit
def elementwise_add(mA: cute.Tensor, mB: cute.Tensor, mC: cute.Tensor):
    threads = 256
    m, n = mA.shape
    elementwise_add_kernel(mA, mB, mC).launch(grid=((m * n + threads - 1) // threads, 1, 1), block=(threads, 1, 1))


class ModelNew(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.compiled = {}  # cute.compile builds one function per shape

    def forward(self, a, b):
        out = torch.empty_like(a)
        views = [from_dlpack(t.contiguous(), assumed_align=16) for t in (a, b, out)]
        key = tuple(a.shape)
        if key not in self.compiled:
            self.compiled[key] = cute.compile(elementwise_add, *views)
        self.compiled[key](*views)
        return out
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
    "triton": (
        "You write custom Triton kernels (@triton.jit) to replace the PyTorch operators in the given architecture "
        "to get speedups.\n\n"
        "You have complete freedom to choose the set of operators you want to replace. You may replace some "
        "operators with Triton kernels and leave others unchanged, fuse several operators into one kernel (for "
        "example matmul + relu), autotune block sizes with @triton.autotune, or change the algorithm (such as "
        "online softmax)."),
    "cute": (
        "You write custom GPU kernels in NVIDIA's CuTe DSL (CUTLASS Python: `import cutlass.cute as cute`, "
        "@cute.kernel and @cute.jit, compiled with cute.compile) to replace the PyTorch operators in the given "
        "architecture to get speedups.\n\n"
        "You have complete freedom to choose the set of operators you want to replace. You may replace some "
        "operators with CuTe kernels and leave others unchanged, fuse several operators into one kernel, use CuTe "
        "layouts, tiled copies and MMA atoms, or change the algorithm."),
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
    "triton": ("Optimize the architecture named Model with custom Triton kernels! Name your optimized output "
               "architecture ModelNew. Output the new code in codeblocks. Please generate real code, NOT pseudocode, "
               "make sure the code compiles and is fully functional. Just output the new model code, no other "
               "text, and NO testing code!"),
    "cute": ("Optimize the architecture named Model with custom CuTe DSL kernels! Name your optimized output "
             "architecture ModelNew. Output the new code in codeblocks. Please generate real code, NOT pseudocode, "
             "make sure the code compiles and is fully functional. Just output the new model code, no other text, "
             "and NO testing code!"),
}
EXAMPLES = {"cuda": (EXAMPLE_NEW_CUDA, "custom CUDA"), "cpu": (EXAMPLE_NEW_CPU, "custom C++ CPU"),
            "triton": (EXAMPLE_NEW_TRITON, "Triton"), "cute": (EXAMPLE_NEW_CUTE, "CuTe DSL")}


def prompt_device(meta: ProblemMeta | None, requested: str | None = None) -> str:
    """'cpu' for the CPU track (or when asked), else 'cuda'."""
    if requested:
        return requested
    return "cpu" if meta is not None and meta.device == "cpu" else "cuda"


def build_prompt(problem_path: str | Path, meta: ProblemMeta | None = None, device: str | None = None,
                 backend: str = "cuda") -> str:
    """The full prompt for one problem file. `device` is 'cuda' or 'cpu' (default: from the metadata); `backend`
    the kernel language asked for (grader/jail/backends.py)."""
    device = prompt_device(meta, device)
    lang = backends.get(backend)
    if device == "cpu" and not lang.cpu:
        raise UsageError(f"--backend {backend}: {lang.label} kernels run on NVIDIA GPUs only; use --device cuda")
    source = Path(problem_path).read_text().rstrip() + "\n"
    key = "cpu" if device == "cpu" and lang.name == "cuda" else lang.name
    example_new, kind = EXAMPLES[key]
    parts = [
        INTRO[key],
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
    if device == "cuda" and key == "cuda":
        notes.append("The target GPU is an NVIDIA H100 (sm_90); pass extra_cuda_cflags=['-O3', '-arch=sm_90'] "
                     "if you like.")
    elif device == "cuda":
        notes.append("The target GPU is an NVIDIA H100 (sm_90). The first call of forward() is made before any "
                     "check or timing, so JIT compilation and autotuning there cost nothing.")
    elif key == "triton":
        notes.append("This is a CPU grading: your Triton kernels run on CPU tensors through Triton's interpreter "
                     "(TRITON_INTERPRET=1), so correctness counts here and speed does not.")
    parts += notes + ["", OUTRO[key], ""]
    return "\n".join(parts)
