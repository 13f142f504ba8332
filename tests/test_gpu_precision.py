"""The precision audit and the own-kernel check on a real GPU (run on the H200):

    python -m pytest -q -s tests/test_gpu_precision.py
"""

import pytest

from kgtest import FIXTURES, ROOT, report_of, run_grader

pytestmark = pytest.mark.gpu

ADV = ROOT / "tests" / "adversarial"
TF32 = ADV / "solutions" / "gpu_tf32_matmul.py"


@pytest.fixture(scope="module")
def rand_matmul(tmp_path_factory):
    """KernelBench's level1/1 at its own size: a 4096-square float32 matmul of torch.rand inputs, whose large
    positive sums let a TF32 GEMM pass float32's tolerance (6.47x vs eager on an H200 before the audit)."""
    text = (FIXTURES / "matmul_rand.py").read_text()
    assert "\nN = 512\n" in text
    path = tmp_path_factory.mktemp("problem") / "matmul_rand_gpu.py"
    path.write_text(text.replace("\nN = 512\n", "\nN = 2048 * 2\n"))
    return path


def cuda(solution, problem, *args):
    proc = run_grader("check", str(solution), "--problem", str(problem), "--device", "cuda", "--json",
                      "--sandbox", "local", "--no-compile-baseline", "--trials", "3", *args)
    report = report_of(proc.stdout, proc.stderr)
    print(f"\n{solution.name}: {report['status']} {report['message']} flags={report['flags']}\n"
          f"  precision={report['precision']}\n  kernels={report['kernels'][:4]}")
    return proc, report


def test_tf32_cublas_matmul_is_flagged_untrusted_and_not_its_own_kernel(rand_matmul):
    proc, report = cuda(TF32, rand_matmul)
    assert report["status"] == "passed", report["message"]
    audit = report["precision"]
    assert audit["flagged"] and "reduced_precision" in report["flags"], audit
    assert audit["candidate_err"] > 4 * audit["eager_err"], audit
    assert report["speedup_trusted"] is False and "reduced_precision" in report["message"]
    assert "no_custom_kernel" in report["flags"] and report["kernels"], report["kernels"]


def test_tf32_cublas_matmul_is_refused_under_strict(rand_matmul):
    proc, report = cuda(TF32, rand_matmul, "--strict")
    assert report["status"] == "policy_violation" and proc.returncode == 1, report["message"]
    assert "lower precision" in report["message"] and report["precision"]["flagged"]


@pytest.mark.parametrize("solution, problem", [(ROOT / "solutions/level1/matmul.py", "matmul"),
                                               (ROOT / "tests/fixtures/kb_add_cuda.py", ROOT / "tests/fixtures/kb_add.py")],
                         ids=["sgemm", "add"])
def test_honest_fp32_kernels_are_not_flagged_on_gpu(solution, problem):
    proc, report = cuda(solution, problem, "--strict")
    assert report["status"] == "passed", report["message"]
    assert report["precision"]["candidate_err"] is not None and not report["precision"]["flagged"]
    assert "reduced_precision" not in report["flags"] and "no_custom_kernel" not in report["flags"]
    assert report["kernels"] == []
