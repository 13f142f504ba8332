"""Precision: the float64 audit, --precision variants, the own-kernel check and degenerate problems.

The audit's decision is tested on real kernels (C++ compiled here) over the inputs of real problems,
through the reference worker's own float64 code; the CLI tests grade end to end on the CPU.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from kgtest import FIXTURES, ROOT, report_of, run_grader

from grader.judge import lint, policy, precision, problems
from grader.judge.compare import tolerance
from grader.jail.runner import ModelRunner
from grader.jail import float64

# One test process: one compiled extension (`orders`) serves several tests.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("precision")]

RAND = FIXTURES / "matmul_rand.py"                                  # positive inputs: large sums
RANDN = ROOT / "tests" / "adversarial" / "problems" / "matmul_cpu.py"  # zero-mean inputs
FAST = ["--device", "cpu", "--sandbox", "local", "--no-compile-baseline", "--max-timing-s", "0.5", "--trials", "3",
        "--json"]


def grade(solution: Path, problem: Path, *extra: str):
    proc = run_grader("check", str(solution), "--problem", str(problem), *FAST, *extra)
    return proc, report_of(proc.stdout, proc.stderr)


def tf32(x: torch.Tensor) -> torch.Tensor:
    """Round float32 to TF32 the way the C++ fixture does: add half an ulp of 10 mantissa bits, truncate."""
    return ((x.view(torch.int32) + 0x1000) & ~0x1FFF).view(torch.float32)


def test_round_mantissa_is_tf32_rounding():
    x = torch.randn(100_000) * 1e3
    assert torch.equal(float64.round_mantissa(x.double(), 10).float(), tf32(x))
    assert torch.equal(float64.round_mantissa(x.double(), 52), x.double())


@pytest.fixture(scope="module")
def orders():
    """The honest summation orders of tests/fixtures/matmul_fp32_orders.py, compiled in this process."""
    spec = importlib.util.spec_from_file_location("kg_test_orders", FIXTURES / "matmul_fp32_orders.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ext


CASES = [(RAND, 128), (RAND, 640), (RANDN, 256)]


@pytest.mark.parametrize("problem, n", CASES, ids=[f"{p.stem}-{n}" for p, n in CASES])
def test_honest_summation_orders_are_never_flagged_and_tf32_always_is(orders, problem, n):
    mod = problems.load_module(problem, {"N": n})
    runner = ModelRunner(mod, mod.Model(), "cpu", "reference")
    seed = 1234
    a, b = runner.inputs(seed)
    eager, _ = runner.run(seed, [])
    ref64 = float64.float64_outputs(runner, seed, None, None)
    probe = float64.float64_outputs(runner, seed, precision.PROBE_BITS[torch.float32], None)
    assert ref64[0].dtype == torch.float64 and not torch.equal(ref64[0], probe[0])
    rows = []
    for name in ("naive", "tiled", "split_k", "tree"):
        got = getattr(orders, f"matmul_{name}")(a, b)
        audit = precision.assess([got], eager, ref64, probe, torch.float32)
        rows.append(f"{name} {audit.candidate_err:.3g}")
        assert not audit.flagged, f"{problem.stem} N={n}: honest {name} flagged: {audit.note}"
    audit = precision.assess([tf32(a) @ tf32(b)], eager, ref64, probe, torch.float32)
    print(f"\n{problem.stem} N={n}: eager {audit.eager_err:.3g}, TF32 inputs {audit.candidate_err:.3g}, "
          f"probe {audit.probe_err:.3g}; " + ", ".join(rows))
    assert audit.flagged and "lower precision" in audit.note, audit.note
    bf16 = precision.assess([(a.bfloat16() @ b.bfloat16()).float()], eager, ref64, probe, torch.float32)
    assert bf16.flagged


def test_audit_skips_what_it_cannot_judge():
    assert "no float32" in precision.skip_reason([torch.zeros(3, dtype=torch.int64)])
    assert "no float32" in precision.skip_reason([torch.zeros(3, dtype=torch.float64)])
    assert precision.skip_reason([torch.zeros(3), torch.zeros(2, dtype=torch.int64)]) == ""
    # NaN where both sides have it is left out; an exact answer has no error at all
    ref = torch.tensor([1.0, float("nan"), 2.0], dtype=torch.float64)
    assert precision.rel_l2([torch.tensor([1.0, float("nan"), 2.0])], [ref]) == 0.0


def test_variant_tolerance_only_loosens_the_metadata():
    meta = problems.load_meta(ROOT / "problems" / "cpu" / "cpu_matmul.py")
    assert tolerance(torch.float32, meta) == (1e-3, 1e-3)
    assert tolerance(torch.bfloat16, meta, variant=True) == (2e-2, 2e-2)
    assert tolerance(torch.float32, meta, variant=True) == (1e-3, 1e-3)


# ---------------------------------------------------------------- is it its own kernel

PROFILE = ["void add_kernel<float>(float const*, float const*, float*, int)", "Memcpy HtoD (Pageable -> Device)",
           "sm90_xmma_gemm_f32f32_tf32f32_f32_nn_n_tilesize128x128x32_cublas", "Memset (Device)"]


def test_own_kernels_are_read_from_the_solution_text(tmp_path):
    sol = tmp_path / "sol.py"
    sol.write_text('src = """\ntemplate <int B> __global__ void __launch_bounds__(256) add_kernel(const float* a)'
                   ' {}\n__device__ float helper(float x) { return x; }\n"""\n'
                   "import triton\n@triton.jit\ndef tri_kernel(x):\n    pass\n")
    assert policy.own_kernel_names(sol.read_text()) == {"add_kernel", "tri_kernel"}
    assert policy.own_kernels_ran(sol, PROFILE)
    assert not policy.own_kernels_ran(sol, PROFILE[1:])          # cuBLAS only: not its own
    assert not policy.own_kernels_ran(sol, [])                   # nothing ran on the GPU
    assert policy.gpu_kernels(PROFILE) == [PROFILE[0], PROFILE[2]]
    # a C++-only extension that calls ATen defines no kernel, whatever the worker claims ran
    plain = tmp_path / "plain.py"
    plain.write_text((ROOT / "tests/adversarial/solutions/gpu_tf32_matmul.py").read_text())
    assert policy.own_kernel_names(plain.read_text()) == set()
    assert policy.own_kernels_ran(plain, ["fast_matmul"]) is False  # a host function's name is no kernel
    assert policy.own_kernels_ran(plain, PROFILE) is False


# ---------------------------------------------------------------- degenerate problems

DEGENERATE_PROBLEMS = {
    "zero_out": "return x - x",
    "flat_out": "return x.mean() * 1e-3 + torch.zeros_like(x) + 100.0",  # moves, but within 1e-4 of 100
    "echo": "return torch.relu(x)",          # rand inputs are positive: returning x passes
    "fine": "return torch.tanh(x) * 2 - 1",
}


def _write_problems(folder: Path) -> None:
    for name, body in DEGENERATE_PROBLEMS.items():
        (folder / f"{name}.py").write_text(
            "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
            f"        {body}\n\nN = 4096\n\ndef get_inputs():\n    return [torch.rand(N)]\n\n"
            "def get_init_inputs():\n    return []\n")


def test_lint_names_each_degenerate_answer(tmp_path):
    _write_problems(tmp_path)
    (tmp_path / "helper.py").write_text("X = 1\n")  # not a problem: skipped
    proc = run_grader("problems", "lint", str(tmp_path), "--json", timeout=300)
    rows = {Path(r["path"]).stem: r for r in map(json.loads, proc.stdout.splitlines())}
    assert proc.returncode == 1 and set(rows) == set(DEGENERATE_PROBLEMS), proc.stderr[-2000:]
    assert rows["zero_out"]["passes"] == ["zeros", "constant"]
    assert rows["flat_out"]["passes"] == ["constant"]
    assert rows["echo"]["passes"] == ["input 0"]
    assert rows["fine"]["status"] == "clean" and rows["fine"]["sizes"] == {"N": 256}


def test_nearly_constant_needs_one_value_for_every_run():
    ranges = lint.merge_ranges(None, [torch.tensor(13.0)])
    assert lint.nearly_constant(ranges, [(1e-4, 1e-4)])  # one scalar alone is always "constant"
    ranges = lint.merge_ranges(ranges, [torch.tensor(13.1)])
    assert not lint.nearly_constant(ranges, [(1e-4, 1e-4)])
    assert lint.nearly_constant(lint.merge_ranges(None, [torch.full((5,), 7, dtype=torch.int64)]), [(0.0, 0.0)])
    assert not lint.nearly_constant(lint.merge_ranges(None, [torch.tensor([1.0, float("nan")])]), [(1.0, 1.0)])


def test_bundled_library_is_clean():
    proc = run_grader("problems", "lint", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "0 weak, 0 error, 0 timeout" in proc.stdout


# ---------------------------------------------------------------- end to end on the CPU

@pytest.mark.timeout(1800)  # a compile and a grading: over 600 s on a loaded 2-core machine
def test_tf32_rounding_solution_is_flagged_and_untrusted():
    proc, report = grade(FIXTURES / "matmul_tf32_cpu.py", RAND)
    assert report["status"] == "passed", report["message"]
    audit = report["precision"]
    assert audit["flagged"] and "reduced_precision" in report["flags"], audit
    assert audit["candidate_err"] > 10 * audit["eager_err"] and audit["dtype"] == "float32", audit
    assert report["speedup_trusted"] is False and "reduced_precision" in report["message"]


@pytest.mark.timeout(1800)  # a compile and a grading: over 600 s on a loaded 2-core machine
def test_tf32_rounding_solution_is_refused_under_strict():
    proc, report = grade(FIXTURES / "matmul_tf32_cpu.py", RAND, "--strict")
    assert report["status"] == "policy_violation" and "lower precision" in report["message"], report["message"]
    assert report["precision"]["flagged"] and proc.returncode == 1


@pytest.mark.timeout(1800)  # a compile and a grading: over 600 s on a loaded 2-core machine
def test_honest_tiled_solution_is_not_flagged():
    proc, report = grade(FIXTURES / "matmul_fp32_orders.py", RAND, "--strict")
    assert report["status"] == "passed", report["message"]
    audit = report["precision"]
    assert audit["candidate_err"] is not None and not audit["flagged"], audit
    assert "reduced_precision" not in report["flags"] and "weak_check" not in report["flags"]


def _plain(folder: Path, name: str, body: str) -> Path:
    """A ModelNew in plain PyTorch: nothing to compile, so these gradings are quick."""
    path = folder / f"{name}.py"
    path.write_text(f"import torch\nimport torch.nn as nn\n\nclass ModelNew(nn.Module):\n"
                    f"    def forward(self, x):\n        return {body}\n")
    return path


def test_weak_check_when_one_constant_passes_every_trial(tmp_path):
    _write_problems(tmp_path)
    _, report = grade(_plain(tmp_path, "zeros", "torch.zeros_like(x)"), tmp_path / "zero_out.py")
    assert report["status"] == "passed" and "weak_check" in report["flags"], report["message"]


def test_half_precision_variant_is_graded_in_that_dtype(tmp_path):
    _write_problems(tmp_path)
    fine = _plain(tmp_path, "fine_sol", "torch.tanh(x) * 2 - 1")
    _, report = grade(fine, tmp_path / "fine.py", "--precision", "bf16")
    assert report["status"] == "passed" and report["dtype"] == "bfloat16", report["message"]
    assert report["precision"]["dtype"] == "bfloat16" and not report["precision"]["flagged"]
    assert "weak_check" not in report["flags"]


def test_half_precision_variant_refuses_a_float32_answer(tmp_path):
    _write_problems(tmp_path)
    wide = _plain(tmp_path, "wide", "torch.tanh(x.float()) * 2 - 1")
    _, report = grade(wide, tmp_path / "fine.py", "--precision", "bf16")
    assert report["status"] == "incorrect" and "dtype float32 but expected bfloat16" in report["message"]
