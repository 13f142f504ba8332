"""`grader problems list|show`, `grader prompt`, `grader new`: real subprocesses, as a user runs them."""

from __future__ import annotations

import ast
import json
import subprocess
import types

import pytest

from kgtest import FIXTURES, ROOT, run_grader

KB_RELU = (FIXTURES / "kernelbench_relu.py").read_text()

def grader(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return run_grader(*args, timeout=300, cwd=cwd)


@pytest.fixture()
def kb_dir(tmp_path):
    d = tmp_path / "KernelBench" / "level1"
    d.mkdir(parents=True)
    (d / "19_ReLU.py").write_text(KB_RELU)
    return d


def test_list_shows_every_bundled_problem():
    p = grader("problems", "list")
    assert p.returncode == 0, p.stderr
    bundled = sorted(f.stem for f in (ROOT / "problems").rglob("*.py"))
    for name in bundled:
        assert f"\n{name} " in p.stdout
    assert p.stdout.strip().endswith(f"{len(bundled)} problems")


def test_list_filters_by_level_and_tag():
    p = grader("problems", "list", "--level", "2", "--json")
    rows = json.loads(p.stdout)
    assert rows and all(r["level"] == 2 for r in rows)
    p = grader("problems", "list", "--tag", "cpu", "--json")
    rows = json.loads(p.stdout)
    assert len(rows) >= 5 and all("cpu" in r["tags"] and r["device"] == "cpu" for r in rows)
    p = grader("problems", "list", "--tag", "no-such-tag")
    assert p.returncode == 0 and "no problems with tag 'no-such-tag'" in p.stdout


def test_list_external_kernelbench_folder_without_metadata(kb_dir):
    p = grader("problems", "list", "--problems-dir", str(kb_dir))
    assert p.returncode == 0, p.stderr
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("19_ReLU "))
    assert "(no metadata)" in line and str(kb_dir / "19_ReLU.py") in line
    p = grader("problems", "list", "--problems-dir", str(kb_dir / "nope"))
    assert p.returncode == 2 and "--problems-dir is not a folder" in p.stderr


def test_show_bundled_problem():
    p = grader("problems", "show", "matmul_bf16")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "(4096, 8192) bfloat16; (8192, 4096) bfloat16" in out
    assert "275 GFLOP" in out and "compute bound" in out and "H100" in out
    assert "tolerance  atol=0.02 rtol=0.02" in out
    assert "def get_inputs" in out  # the reference source


def test_show_kernelbench_file_with_cuda_inputs(kb_dir):
    p = grader("problems", "show", "19_ReLU", "--problems-dir", str(kb_dir))
    assert p.returncode == 0, p.stderr
    assert "metadata   none" in p.stdout
    assert "inputs     (16, 16384) float32" in p.stdout
    assert "batch_size=16, dim=16384" in p.stdout


def test_show_unknown_name_is_a_one_line_usage_error():
    p = grader("problems", "show", "no_such_problem")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "no_such_problem" in lines[0] and "grader problems list" in lines[0]


def test_prompt_has_instructions_example_and_architecture():
    p = grader("prompt", "softmax")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("You write custom CUDA kernels")
    assert "def forward(self, a, b):\n        return a + b" in out  # the example Model
    assert "load_inline(" in out and "cuda_sources=elementwise_add_source" in out  # the example ModelNew
    assert (ROOT / "problems/level1/softmax.py").read_text().strip() in out
    assert "Name your optimized output architecture ModelNew" in out
    blocks = out.split("```python\n")[1:]
    assert len(blocks) == 3
    for b in blocks:
        ast.parse(b.split("```")[0])


def test_prompt_for_cpu_track_asks_for_cpp(kb_dir, tmp_path):
    p = grader("prompt", "cpu_matmul")
    assert p.returncode == 0
    assert "custom C++ code for the CPU" in p.stdout and "cuda_sources" not in p.stdout
    out = tmp_path / "prompt.txt"
    p = grader("prompt", "19_ReLU", "--problems-dir", str(kb_dir), "-o", str(out))
    assert p.returncode == 0 and "torch.randn(batch_size, dim).cuda()" in out.read_text()


def _import_starter(path, monkeypatch):
    import torch.utils.cpp_extension as ce

    seen = {}

    def fake_load_inline(**kw):
        seen.update(kw)
        return types.SimpleNamespace()

    monkeypatch.setattr(ce, "load_inline", fake_load_inline)
    mod = types.ModuleType("starter")
    exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
    return mod, seen


def test_new_writes_starter_that_matches_model_parameters(tmp_path, monkeypatch):
    import torch

    from grader.judge import problems

    out = tmp_path / "sol.py"
    p = grader("new", "resnet_block", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert f"wrote {out}" in p.stdout and "grader check" in p.stdout
    mod, seen = _import_starter(out, monkeypatch)
    assert seen["cuda_sources"] and seen["functions"] == ["resnet_block_forward"]
    prob = problems.load_module(ROOT / "problems/level3/resnet_block.py")
    torch.manual_seed(7)
    ref = prob.Model(*prob.get_init_inputs())
    torch.manual_seed(7)
    new = mod.ModelNew(*prob.get_init_inputs())
    for a, b in zip(ref.state_dict().values(), new.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # refuses to overwrite without --force
    p = grader("new", "resnet_block", "-o", str(out))
    assert p.returncode == 2 and "already exists" in p.stderr and "--force" in p.stderr
    assert grader("new", "resnet_block", "-o", str(out), "--force").returncode == 0


def test_new_default_path_cpu_stub_and_kernelbench_file(kb_dir, tmp_path, monkeypatch):
    p = grader("new", "cpu_softmax", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    starter = tmp_path / "cpu_softmax_solution.py"
    mod, seen = _import_starter(starter, monkeypatch)
    assert "cuda_sources" not in seen and "cpu_softmax_forward" in seen["cpp_sources"]
    out = tmp_path / "relu_sol.py"
    p = grader("new", "19_ReLU", "--problems-dir", str(kb_dir), "-o", str(out))
    assert p.returncode == 0, p.stderr
    mod, _ = _import_starter(out, monkeypatch)
    mod.ModelNew()  # `super(Model, self)` was rewritten


@pytest.mark.slow
def test_cpu_starter_compiles_and_grades_incorrect(tmp_path):
    """A starter is a real, gradable file: it compiles, runs, and is (expectedly) wrong."""
    try:
        from grader.judge import engine
        from grader.models import GradeRequest
    except ImportError:
        pytest.skip("grader.judge.engine not available")
    out = tmp_path / "sol.py"
    assert grader("new", "cpu_row_sum", "-o", str(out)).returncode == 0
    report = engine.grade(GradeRequest(solution=str(out), problem="cpu_row_sum", device="cpu", sandbox="local",
                                       baseline_compile=False, trials=1, max_timing_s=0.2))
    assert report.status.value == "incorrect", report.message
