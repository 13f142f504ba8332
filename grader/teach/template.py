"""Starter ModelNew files, generated from a problem's source (read with `ast`, never run).

The starter copies Model's __init__ (so parameters are created in the same order and match), copies any
helper methods, keeps forward's signature, shows the reference forward as comments, and wires a
kernel stub (load_inline CUDA or C++, Triton or CuTe DSL: `--backend`) whose kernel merely copies the first
input: it compiles and runs, and grades as incorrect until the kernel does the real work.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

from grader.errors import UsageError
from grader.jail import backends

CUDA_STUB = r'''cuda_source = r"""
#include <c10/cuda/CUDAStream.h>

// TODO: the real kernel. This stub copies its input so that the file compiles and runs.
__global__ void {name}_kernel(const float* __restrict__ x, float* __restrict__ y, long long n) {{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i];
}}

torch::Tensor {name}_forward(torch::Tensor x) {{
    TORCH_CHECK(x.is_cuda(), "x must be a CUDA tensor");
    TORCH_CHECK(x.scalar_type() == torch::kFloat32, "this stub handles float32 only");
    x = x.contiguous();
    auto y = torch::empty_like(x);
    const long long n = x.numel();
    const int threads = 256;
    const long long blocks = (n + threads - 1) / threads;
    if (n > 0) {{
        {name}_kernel<<<(unsigned)blocks, threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            x.data_ptr<float>(), y.data_ptr<float>(), n);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    }}
    return y;
}}
"""

cpp_source = "torch::Tensor {name}_forward(torch::Tensor x);"

_ext = load_inline(
    name="{name}_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["{name}_forward"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)
'''

CPU_STUB = r'''cpp_source = r"""
#include <torch/extension.h>

// TODO: the real computation. This stub copies its input so that the file compiles and runs.
torch::Tensor {name}_forward(torch::Tensor x) {{
    TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat32, "expected a CPU float32 tensor");
    x = x.contiguous();
    auto y = torch::empty_like(x);
    const float* in = x.data_ptr<float>();
    float* out = y.data_ptr<float>();
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) out[i] = in[i];
    return y;
}}
"""

_ext = load_inline(
    name="{name}_ext",
    cpp_sources=cpp_source,
    functions=["{name}_forward"],
    extra_cflags=["-O3"],
    verbose=False,
)
'''


TRITON_STUB = r'''@triton.jit
def {name}_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    # TODO: the real kernel. This stub copies its input so that the file compiles and runs.
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


def {name}_forward(x: torch.Tensor) -> torch.Tensor:
    x = x.contiguous()
    y = torch.empty_like(x)
    n = x.numel()
    BLOCK = 1024
    {name}_kernel[(triton.cdiv(n, BLOCK),)](x, y, n, BLOCK=BLOCK)
    return y
'''

CUTE_STUB = r'''THREADS = 256


@cute.kernel
def {name}_kernel(gX: cute.Tensor, gY: cute.Tensor):
    # TODO: the real kernel. This stub copies its (flattened) input so that the file compiles and runs.
    i = cute.arch.block_idx()[0] * cute.arch.block_dim()[0] + cute.arch.thread_idx()[0]
    if i < cute.size(gX):
        gY[i] = gX[i]


@cute.jit
def {name}_launch(mX: cute.Tensor, mY: cute.Tensor):
    blocks = (cute.size(mX) + THREADS - 1) // THREADS
    {name}_kernel(mX, mY).launch(grid=(blocks, 1, 1), block=(THREADS, 1, 1))


_compiled = {{}}  # numel -> what cute.compile built for it (it compiles at the first call: the compile phase)


def {name}_forward(x: torch.Tensor) -> torch.Tensor:
    x = x.contiguous()
    y = torch.empty_like(x)
    mx, my = from_dlpack(x.view(-1), assumed_align=16), from_dlpack(y.view(-1), assumed_align=16)
    if x.numel() not in _compiled:
        _compiled[x.numel()] = cute.compile({name}_launch, mx, my)
    _compiled[x.numel()](mx, my)
    return y
'''

# Per backend: the imports a starter begins with, and its stub (CUDA's and C++'s call `_ext.NAME_forward`).
HEADERS = {
    "cuda": ["import torch", "import torch.nn as nn", "from torch.utils.cpp_extension import load_inline"],
    "triton": ["import torch", "import torch.nn as nn", "import triton", "import triton.language as tl"],
    "cute": ["import cutlass.cute as cute", "import torch", "import torch.nn as nn",
             "from cutlass.cute.runtime import from_dlpack"],
}
STUBS = {"triton": TRITON_STUB, "cute": CUTE_STUB}


def _ident(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if not out or out[0].isdigit():
        out = "p_" + out
    return out


def _model_class(tree: ast.Module, path: Path) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            return node
    raise UsageError(f"{path}: no `class Model` to build a starter from")


def _lines(src_lines: list[str], node: ast.AST, indent: str | None = None) -> list[str]:
    """The source lines of `node` (decorators included); with `indent`, re-indented so that the node's
    first line starts with exactly `indent`."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    out = src_lines[start - 1:node.end_lineno]
    if indent is None or not out:
        return out
    first = out[0]
    old = first[:len(first) - len(first.lstrip())]
    return [_SUPER.sub("super()", indent + ln[len(old):] if ln.startswith(old) else ln) for ln in out]


# `super(Model, self).__init__()` would fail inside ModelNew.
_SUPER = re.compile(r"super\(\s*Model\s*,\s*self\s*\)")


def render(problem_path: str | Path, device: str = "cuda", name: str | None = None, backend: str = "cuda") -> str:
    """Source of a starter solution for the problem at `problem_path`, in `backend`'s kernel language
    (grader/jail/backends.py; on the CPU, Triton runs through its interpreter and CuTe DSL not at all)."""
    lang = backends.get(backend)
    if device == "cpu" and not lang.cpu:
        raise UsageError(f"--backend {backend}: {lang.label} kernels run on NVIDIA GPUs only; pick --backend "
                         f"{' or '.join(b.name for b in backends.BACKENDS.values() if b.cpu)} for the CPU")
    path = Path(problem_path)
    try:
        src = path.read_text()
        tree = ast.parse(src, filename=str(path))
    except SyntaxError as e:
        raise UsageError(f"{path}:{e.lineno}: syntax error in problem: {e.msg}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read problem: {e}") from e
    lines = src.splitlines()
    model = _model_class(tree, path)
    ident = _ident(name or path.stem)

    imports = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports += _lines(lines, node)
    base = HEADERS[lang.name]
    header = base + [ln for ln in dict.fromkeys(imports) if ln.strip() not in base]

    methods = [n for n in model.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    init = next((m for m in methods if m.name == "__init__"), None)
    forward = next((m for m in methods if m.name == "forward"), None)
    if forward is None:
        raise UsageError(f"{path}: Model has no forward() to build a starter from")

    body: list[str] = []
    if init is not None:
        body += ["    # Copied from Model.__init__: parameters created in the same order get the same values."]
        body += _lines(lines, init, "    ")
    else:
        body += ["    def __init__(self):", "        super().__init__()"]
    for m in methods:
        if m.name not in ("__init__", "forward"):
            body += [""] + _lines(lines, m, "    ")

    # forward: same signature, reference as comments, stub call on the first argument.
    fwd = _lines(lines, forward, "    ")
    n_sig = forward.body[0].lineno - min([forward.lineno] + [d.lineno for d in forward.decorator_list])
    if n_sig < 1:  # `def forward(self, x): return x` on one line
        sig = [f"    def forward({ast.unparse(forward.args)}):"]
        ref = [ast.unparse(st) for st in forward.body]
    else:
        sig = fwd[:n_sig]
        ref = textwrap.dedent("\n".join(fwd[n_sig:])).splitlines()
    args = [a.arg for a in forward.args.posonlyargs + forward.args.args][1:]
    body += ["", *sig, "        # Reference (Model.forward):"]
    body += [("        #   " + ln).rstrip() for ln in ref if ln.strip()]
    if args:
        call = f"{ident}_forward" if lang.name in STUBS else f"_ext.{ident}_forward"
        body.append(f"        return {call}({args[0]})  # TODO: call your kernel(s) here")
    else:
        body.append("        raise NotImplementedError('call your kernel here')")

    stub = STUBS.get(lang.name, CPU_STUB if device == "cpu" else CUDA_STUB).format(name=ident)
    what = backends.label(lang, device)
    out = [
        f'"""Starter solution for problem `{path.stem}` ({what}), generated by `grader new`.',
        "",
        "Write the kernel, then grade it:",
        f"    grader check THIS_FILE --problem {path.stem}",
        '"""',
        "",
        *header,
        "",
        stub.rstrip(),
        "",
        "",
        "class ModelNew(nn.Module):",
        *body,
        "",
    ]
    return "\n".join(out)
