"""The GPU path end to end on a real device: run on the H100 through the device tool."""

import json

import pytest

from kgtest import FIXTURES, ROOT, report_of, run_grader

pytestmark = pytest.mark.gpu

CASES = [
    (FIXTURES / "kb_add_cuda.py", FIXTURES / "kb_add.py"),
    (ROOT / "solutions/level1/relu.py", "relu"),
    (ROOT / "solutions/level1/matmul.py", "matmul"),
]


@pytest.mark.parametrize("solution, problem", CASES, ids=["kernelbench_a_plus_b", "relu", "matmul"])
def test_honest_cuda_solution_passes_with_trusted_speedup(solution, problem):
    proc = run_grader("check", str(solution), "--problem", str(problem), "--device", "cuda", "--json",
                      "--sandbox", "local")
    report = report_of(proc.stdout, proc.stderr)
    print(f"\n{problem}: {report['status']} {report['message']}  flags={report['flags']}")
    assert report["status"] == "passed", report["message"] + report["worker_log"][-2000:]
    assert proc.returncode == 0
    assert report["runtime"]["clock"] == "cuda_event" and report["runtime"]["l2_flushed"]
    assert report["speedup"] > 0 and report["speedup_compile"] > 0
    assert "timing_mismatch" not in report["flags"] and report["speedup_trusted"]
    assert "H100" in report["device"] or "H200" in report["device"]


def test_wrong_cuda_kernel_is_incorrect(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text((FIXTURES / "kb_add_cuda.py").read_text().replace("a[idx] + b[idx]", "a[idx] - b[idx]")
                     .replace("kg_fixture_add", "kg_fixture_sub"))
    proc = run_grader("check", str(wrong), "--problem", str(FIXTURES / "kb_add.py"), "--device", "cuda",
                      "--json", "--no-compile-baseline")
    report = report_of(proc.stdout, proc.stderr)
    assert report["status"] == "incorrect" and "worst element" in report["message"]


def test_seed_example_regrade_is_cached_and_a_body_edit_reuses_the_binding_object(tmp_path):
    # The compile cache on the GPU: a new process loads the cached build, and an edit of the kernel's body only
    # recompiles cuda.cu (the binding file's object comes from the cache). bench/compile_latency.py times it.
    env = {"KG_COMPILE_CACHE": str(tmp_path / "cache")}
    edited = tmp_path / "edited.py"
    edited.write_text((FIXTURES / "kb_add_cuda.py").read_text().replace("a[idx] + b[idx]", "b[idx] + a[idx]"))
    seen = []
    for solution in (FIXTURES / "kb_add_cuda.py", FIXTURES / "kb_add_cuda.py", edited):
        proc = run_grader("check", str(solution), "--problem", str(FIXTURES / "kb_add.py"), "--device", "cuda",
                          "--json", "--sandbox", "local", "--no-compile-baseline", "--max-timing-s", "0.5", env=env)
        report = report_of(proc.stdout, proc.stderr)
        assert report["status"] == "passed", report["message"] + report["compile_log"][-2000:]
        ends = [e for e in (json.loads(x) for x in proc.stderr.splitlines() if x.startswith("{"))
                if e["phase"] == "compile" and e["kind"] == "end"]
        seen.append((report["compile_cached"], ends[0]["message"]))
    assert seen == [(False, "compiled"), (True, "compiled (cached)"), (False, "compiled (1 object(s) reused)")]
