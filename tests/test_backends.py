"""The kernel-language registry: detection from a solution's imports, backend-aware starters and prompts,
which first-call errors are compile errors, and CuTe DSL kernels counted as the solution's own."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from grader.jail import backends
from grader.judge import policy
from kgtest import ROOT, run_grader


@pytest.mark.parametrize("source, name", [
    ("import triton\nimport triton.language as tl\n", "triton"),
    ("from triton import jit\n", "triton"),
    ("import cutlass.cute as cute\nfrom torch.utils.cpp_extension import load_inline\n", "cute"),
    ("from cutlass.cute.runtime import from_dlpack\n", "cute"),
    ("from torch.utils.cpp_extension import load_inline\n", "cuda"),
    ("import torch\nimport tritonclient\n", "cuda"),   # a module whose name merely starts with 'triton'
    ("def broken(:\n", "cuda"),
])
def test_backend_is_read_from_the_imports(source, name):
    assert backends.detect_source(source).name == name


def test_bundled_solutions_are_labelled():
    assert backends.detect(ROOT / "solutions" / "triton" / "softmax.py") is backends.TRITON
    assert backends.detect(ROOT / "solutions" / "cute" / "relu.py") is backends.CUTE
    assert backends.detect(ROOT / "solutions" / "level1" / "relu.py") is backends.CUDA
    assert backends.label(backends.CUDA, "cpu") == "C++" and backends.label(backends.CUDA, "cuda") == "CUDA"
    assert backends.label(backends.TRITON, "cpu") == "Triton interpreter"


OTHER_LANGUAGES = sorted(p for lang in ("triton", "cute") for p in (ROOT / "solutions" / lang).glob("*.py"))


@pytest.mark.parametrize("path", OTHER_LANGUAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_solutions_in_other_languages(path):
    """Each names a bundled problem, is written in its folder's language and brings its own kernel."""
    from grader.judge import problems

    assert problems.resolve(path.stem).is_file()
    assert backends.detect(path).name == path.parent.name
    check = policy.check_solution(path)
    assert check.ok and check.custom_kernel and not check.flags, check


def test_jit_refusals_are_compile_errors_other_failures_are_not():
    triton_errors = pytest.importorskip("triton.compiler.errors")
    runtime_errors = pytest.importorskip("triton.runtime.errors")
    src = "def k(x):\n    y = foo(x)\n    return y\n"
    refused = triton_errors.CompilationError(src, ast.parse(src).body[0].body[0].value, "NameError('foo')")
    assert backends.is_compile_error(refused)
    assert backends.compile_error_line(refused) == "CompilationError: NameError('foo') (at 2:8 of the kernel)"
    assert backends.is_compile_error(runtime_errors.OutOfResources(300000, 232448, "shared memory"))
    assert not backends.is_compile_error(runtime_errors.InterpreterError("index out of range"))
    assert not backends.is_compile_error(ValueError("no"))


def test_cute_solution_brings_its_own_kernel():
    path = ROOT / "solutions" / "cute" / "relu.py"
    check = policy.check_solution(path)
    assert check.ok and check.custom_kernel and "no_custom_kernel" not in check.flags
    # CuTe DSL names its kernels kernel_<module>_<function>_<argument types>_<n>.
    assert policy.own_kernels_ran(path, ["kernel_cutlass_relu_kernel_tensorptrf32gmemo1_tensorptrf32gmemo1_0"])
    assert not policy.own_kernels_ran(path, ["kernel_cutlass_other_kernel_tensorptrf32_0",
                                             "void at::native::vectorized_elementwise_kernel<4>(int)"])


@pytest.mark.parametrize("backend", ["triton", "cute"])
def test_new_writes_the_backends_starter(backend, tmp_path):
    out = tmp_path / "starter.py"
    p = run_grader("new", "softmax", "--backend", backend, "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert backends.detect(out).name == backend
    check = policy.check_solution(out)
    assert check.ok and check.custom_kernel, check
    assert "return softmax_forward(x)" in out.read_text()


def test_triton_starter_runs_through_the_interpreter(tmp_path):
    pytest.importorskip("triton")
    out = tmp_path / "starter.py"
    assert run_grader("new", "cpu_softmax", "--backend", "triton", "-o", str(out)).returncode == 0
    run = f"""
import importlib.util, torch
spec = importlib.util.spec_from_file_location("starter", {str(out)!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
x = torch.randn(8, 100)
assert torch.equal(mod.ModelNew()(x), x)  # the stub copies its input
print("ran")
"""
    p = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TRITON_INTERPRET": "1"})
    assert p.returncode == 0 and "ran" in p.stdout, p.stderr[-3000:]


def test_cute_has_no_cpu_starter_or_prompt(tmp_path):
    p = run_grader("new", "cpu_softmax", "--backend", "cute", "-o", str(tmp_path / "x.py"))
    assert p.returncode == 2
    assert p.stderr.strip() == ("grader: error: --backend cute: CuTe DSL kernels run on NVIDIA GPUs only; pick "
                                "--backend cuda or triton for the CPU")
    assert not (tmp_path / "x.py").exists()
    p = run_grader("prompt", "cpu_softmax", "--backend", "cute")
    assert p.returncode == 2 and "use --device cuda" in p.stderr


def test_prompts_per_backend():
    triton = run_grader("prompt", "softmax", "--backend", "triton").stdout
    assert "custom Triton kernels (@triton.jit)" in triton and "elementwise_add_kernel[(triton.cdiv(n, BLOCK),)]" \
        in triton and "custom Triton kernels!" in triton and "load_inline" not in triton
    assert "batch_size = 4096" in triton  # the problem's own source
    cute = run_grader("prompt", "softmax", "--backend", "cute").stdout
    assert "cute.compile(elementwise_add, *views)" in cute and "custom CuTe DSL kernels!" in cute
    cpu = run_grader("prompt", "cpu_softmax", "--backend", "triton").stdout
    assert "Triton's interpreter" in cpu
    cuda = run_grader("prompt", "softmax").stdout
    assert "load_inline" in cuda and "@triton.jit" not in cuda
