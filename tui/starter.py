"""The source a new solution starts from: grader.teach.template's starter when it is there, else a built-in one."""

from __future__ import annotations

import ast
from pathlib import Path

from grader.models import ProblemMeta


def forward_args(problem_path: Path) -> list[str]:
    """Argument names of Model.forward, read from the AST."""
    try:
        tree = ast.parse(Path(problem_path).read_text())
    except (SyntaxError, OSError, UnicodeDecodeError):
        return ["x"]
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f.name == "forward":
                    names = [a.arg for a in f.args.args[1:]]
                    return names or ["x"]
    return ["x"]


def starter_source(problem_name: str, problem_path: Path, meta: ProblemMeta | None, device: str) -> str:
    """A ModelNew skeleton for the problem. Uses grader.teach.template when that module offers a starter."""
    text = _from_grader_template(problem_name, problem_path, meta, device)
    return text if text is not None else builtin_starter(problem_name, problem_path, meta, device)


def _from_grader_template(problem_name: str, problem_path: Path, meta, device: str) -> str | None:
    try:
        from grader.teach import template  # `grader new` uses the same starter
    except ImportError:
        return None
    render = getattr(template, "render", None)
    if not callable(render):
        return None
    try:
        out = render(problem_path, device=device)
    except Exception:  # noqa: BLE001 - a problem the template cannot read gets the built-in starter
        return None
    return out if isinstance(out, str) and "ModelNew" in out else None


def builtin_starter(problem_name: str, problem_path: Path, meta: ProblemMeta | None, device: str) -> str:
    args = forward_args(problem_path)
    sig = ", ".join(f"torch::Tensor {a}" for a in args)
    call = ", ".join(f"{a}.contiguous()" for a in args)
    first = args[0]
    ext = "".join(c if c.isalnum() else "_" for c in problem_name)
    desc = (meta.description if meta and meta.description else f"problem {problem_name}").replace('"""', "'''")
    if device == "cpu":
        return f'''"""My solution to {problem_name}: {desc}"""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cpp_source = r"""
// TODO: compute what Model.forward computes. This starter only copies its first input.
torch::Tensor forward_cpu({sig}) {{
    auto out = torch::empty_like({first});
    const float* src = {first}.data_ptr<float>();
    float* dst = out.data_ptr<float>();
    for (int64_t i = 0; i < {first}.numel(); ++i) dst[i] = src[i];
    return out;
}}
"""

ext = load_inline(name="{ext}_ext", cpp_sources=cpp_source, functions=["forward_cpu"],
                  extra_cflags=["-O3"])


class ModelNew(nn.Module):
    def __init__(self, *init_inputs):
        super().__init__()

    def forward(self, {", ".join(args)}):
        return ext.forward_cpu({call})
'''
    return f'''"""My solution to {problem_name}: {desc}"""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
// TODO: compute what Model.forward computes. This starter only copies its first input.
__global__ void copy_kernel(const float* __restrict__ src, float* __restrict__ dst, long long n) {{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = src[i];
}}

torch::Tensor forward_cuda({sig}) {{
    auto out = torch::empty_like({first});
    const long long n = {first}.numel();
    const int threads = 256;
    const long long blocks = (n + threads - 1) / threads;
    if (n > 0) copy_kernel<<<blocks, threads>>>({first}.data_ptr<float>(), out.data_ptr<float>(), n);
    return out;
}}
"""

cpp_source = r"""
torch::Tensor forward_cuda({sig});
"""

ext = load_inline(name="{ext}_ext", cpp_sources=cpp_source, cuda_sources=cuda_source,
                  functions=["forward_cuda"], extra_cuda_cflags=["-O3"])


class ModelNew(nn.Module):
    def __init__(self, *init_inputs):
        super().__init__()

    def forward(self, {", ".join(args)}):
        return ext.forward_cuda({call})
'''
