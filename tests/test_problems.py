"""The problem library: every bundled problem loads, validates, runs on the CPU at reduced size, and
matches its reference solution's parameters; roofline arithmetic; CPU-track solutions through the grader."""

from __future__ import annotations

import ast
import math
import os
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from kgtest import FIXTURES, ROOT

from grader.judge import problems, roofline, sizing
from grader.errors import UsageError
from grader.models import ProblemMeta

PROBLEMS = sorted(p for p in (ROOT / "problems").rglob("*.py") if not p.name.startswith("_"))
# The load_inline solutions, one folder per level; solutions/triton and solutions/cute hold other kernel
# languages (grader/backends.py) and are checked in tests/test_backends.py.
SOLUTIONS = sorted(p for p in (ROOT / "solutions").rglob("*.py") if p.parent.name == "cpu"
                   or p.parent.name.startswith("level"))
CPU_SOLUTIONS = sorted((ROOT / "solutions" / "cpu").glob("*.py"))
BY_NAME = {p.stem: p for p in PROBLEMS}


def ids(paths):
    return [p.stem for p in paths]


def folder_level(path: Path) -> int:
    return 0 if path.parent.name == "cpu" else int(path.parent.name.removeprefix("level"))


# ------------------------------------------------------------------ the library as a whole

def test_library_size_and_layout():
    per = {lvl: [p for p in PROBLEMS if folder_level(p) == lvl] for lvl in (0, 1, 2, 3)}
    assert len(per[1]) + len(per[2]) + len(per[3]) >= 40
    assert all(per[lvl] for lvl in (1, 2, 3))
    assert len(per[0]) >= 5, "the CPU track needs at least 5 problems"
    names = [p.stem for p in PROBLEMS]
    assert len(names) == len(set(names)), "problem names must be unique across the library (they resolve by stem)"


def test_solutions_cover_level1_and_half_of_the_rest():
    solved = {p.stem for p in SOLUTIONS}
    level1 = [p.stem for p in PROBLEMS if folder_level(p) == 1]
    assert not set(level1) - solved, f"level 1 problems without a reference solution: {set(level1) - solved}"
    rest = [p.stem for p in PROBLEMS if folder_level(p) in (2, 3)]
    assert 2 * len([n for n in rest if n in solved]) >= len(rest)
    cpu = [p.stem for p in PROBLEMS if folder_level(p) == 0]
    assert set(cpu) <= {p.stem for p in CPU_SOLUTIONS}
    for s in SOLUTIONS:
        assert s.stem in BY_NAME, f"{s}: no problem of that name"
        assert folder_level(s) == folder_level(BY_NAME[s.stem]), f"{s}: lies in another level than its problem"


# ------------------------------------------------------------------ each problem

@pytest.mark.parametrize("path", PROBLEMS, ids=ids(PROBLEMS))
def test_problem_metadata(path: Path):
    problems.check_source(path)
    meta = problems.load_meta(path)
    assert meta is not None, f"{path}: no {path.stem}.json beside it"
    assert meta.name == path.stem
    assert meta.level == folder_level(path)
    assert meta.description and meta.tags
    assert isinstance(getattr(torch, meta.dtype, None), torch.dtype)
    if meta.level == 0:
        assert meta.device == "cpu" and "cpu" in meta.tags
    else:
        assert meta.device == "cuda"
    flops, nbytes = roofline.work(meta, path)
    assert flops and flops > 0, f"{path}: flops expression {meta.flops!r} does not evaluate"
    assert nbytes and nbytes > 0, f"{path}: min_bytes expression {meta.min_bytes!r} does not evaluate"
    consts = problems.module_constants(path)
    assert set(meta.test_sizes) <= set(consts), "test_sizes names constants the module does not define"
    floor = roofline.floor_ms(meta, path, roofline.H100_SXM)
    assert floor is not None and floor > 0
    if meta.level:
        # sized to fill an H100 without being huge: the floor is tens of microseconds to a few milliseconds
        assert 0.01 < floor < 5, f"{path}: floor {floor:.3g} ms"


def _run_reference(path: Path, overrides: dict[str, int]):
    mod = problems.load_module(path, overrides)
    torch.manual_seed(0)
    init = mod.get_init_inputs()
    torch.manual_seed(1)
    model = mod.Model(*init)
    torch.manual_seed(2)
    inputs = mod.get_inputs()
    with torch.no_grad():
        out = model(*inputs)
    return inputs, out


@pytest.mark.parametrize("path", PROBLEMS, ids=ids(PROBLEMS))
def test_reference_runs_on_cpu_at_reduced_size(path: Path):
    meta = problems.load_meta(path)
    overrides = {} if meta.device == "cpu" else problems.small_sizes(path, meta)
    inputs, out = _run_reference(path, overrides)
    for x in inputs:
        assert x.device.type == "cpu", "get_inputs must return CPU tensors: the grader moves them"
        if x.is_floating_point():
            assert x.abs().sum() > 0, "inputs must never be all zeros"
            assert x.dtype == getattr(torch, meta.dtype)
    outs = out if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        assert isinstance(o, torch.Tensor)
        if o.is_floating_point():
            assert torch.isfinite(o.float()).all()
            assert o.abs().sum() > 0, "an all-zero output would let a do-nothing kernel pass"


@pytest.mark.parametrize("path", [p for p in PROBLEMS if folder_level(p) == 0],
                         ids=ids([p for p in PROBLEMS if folder_level(p) == 0]))
def test_cpu_track_reference_is_fast_at_full_size(path: Path):
    torch.set_num_threads(2)
    mod = problems.load_module(path)
    model = mod.Model(*mod.get_init_inputs())
    inputs = mod.get_inputs()
    with torch.no_grad():
        model(*inputs)  # warm-up
        t = time.perf_counter()
        model(*inputs)
        dt = time.perf_counter() - t
    assert dt < 1.0, f"{path.stem}: {dt:.2f}s on the CPU; the CPU track must stay well under a second"


# ------------------------------------------------------------------ solutions, without compiling them

def _load_inline_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == "load_inline"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=ids(SOLUTIONS))
def test_solution_shape(path: Path):
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.ClassDef) and n.name == "ModelNew" for n in tree.body)
    calls = _load_inline_calls(path)
    assert len(calls) == 1, f"{path}: expected one load_inline call"
    kw = {k.arg for k in calls[0].keywords}
    if path.parent.name == "cpu":
        assert "cuda_sources" not in kw and "cpp_sources" in kw
    else:
        assert {"cuda_sources", "cpp_sources", "functions", "extra_cuda_cflags"} <= kw


def test_solution_extension_names_are_unique():
    names = []
    for path in SOLUTIONS:
        (call,) = _load_inline_calls(path)
        names += [ast.literal_eval(k.value) for k in call.keywords if k.arg == "name"]
    assert len(names) == len(SOLUTIONS) and len(set(names)) == len(names)


def _import_without_compiling(path: Path, monkeypatch) -> types.ModuleType:
    import torch.utils.cpp_extension as ce

    monkeypatch.setattr(ce, "load_inline", lambda *a, **k: types.SimpleNamespace())
    mod = types.ModuleType(f"_solution_{path.stem}")
    mod.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)  # trusted: our own reference solutions
    return mod


@pytest.mark.parametrize("path", SOLUTIONS, ids=ids(SOLUTIONS))
def test_solution_creates_the_same_parameters_as_model(path: Path, monkeypatch):
    """ModelNew built under the same seed as Model must hold the same parameters and buffers, in order."""
    prob = BY_NAME[path.stem]
    meta = problems.load_meta(prob)
    overrides = {} if meta.device == "cpu" else problems.small_sizes(prob, meta)
    pmod = problems.load_module(prob, overrides)
    smod = _import_without_compiling(path, monkeypatch)
    init = pmod.get_init_inputs()
    torch.manual_seed(1234)
    ref = pmod.Model(*init)
    torch.manual_seed(1234)
    new = smod.ModelNew(*init)
    a = [t for t in list(ref.parameters()) + list(ref.buffers())]
    b = [t for t in list(new.parameters()) + list(new.buffers())]
    assert len(a) == len(b), f"{path}: Model has {len(a)} parameters/buffers, ModelNew {len(b)}"
    for x, y in zip(a, b):
        assert x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y)


# ------------------------------------------------------------------ resolving, listing, metadata errors

def test_resolve_by_stem_and_level_path():
    assert problems.resolve("relu") == (ROOT / "problems/level1/relu.py").resolve()
    assert problems.resolve("level1/relu") == (ROOT / "problems/level1/relu.py").resolve()
    assert problems.resolve("cpu_softmax").parent.name == "cpu"


def test_list_filters_and_external_folder(tmp_path):
    level2 = problems.list_problems(level=2)
    assert level2 and all(e.level == 2 for e in level2)
    cpu = problems.list_problems(tag="cpu")
    assert {e.name for e in cpu} == {p.stem for p in PROBLEMS if folder_level(p) == 0}
    kb = tmp_path / "level1"
    kb.mkdir()
    (kb / "19_ReLU.py").write_text(KB_RELU)
    (kb / "helper.py").write_text("x = 1\n")  # not a problem: left out
    entries = problems.list_problems(tmp_path)
    ext = [e for e in entries if e.source_dir == tmp_path]
    assert [e.name for e in ext] == ["19_ReLU"]
    assert ext[0].meta is None and ext[0].level == 1  # level from the KernelBench folder name
    assert problems.resolve("19_ReLU", tmp_path) == (kb / "19_ReLU.py").resolve()


KB_RELU = (FIXTURES / "kernelbench_relu.py").read_text()


def test_describe_inputs_of_kernelbench_file_with_cuda_call(tmp_path):
    f = tmp_path / "19_ReLU.py"
    f.write_text(KB_RELU)
    size = sizing.measure(f)
    assert size.inputs == ["(16, 16384) float32"] and size.init_inputs == [] and size.note == ""


def test_broken_metadata_names_the_file_and_field(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(KB_RELU)
    f.with_suffix(".json").write_text('{"name": "p", "level": 9}')
    with pytest.raises(UsageError, match=r"p\.json: invalid metadata at level"):
        problems.load_meta(f)
    entries = [e for e in problems.list_problems(tmp_path) if e.source_dir == tmp_path]
    assert entries[0].error and entries[0].meta is None


# ------------------------------------------------------------------ roofline

def test_module_constants_and_safe_eval(tmp_path):
    f = tmp_path / "p.py"
    f.write_text("import os\nM = 4 * 1024\nK: int = M // 2\nN = os.cpu_count()\nS = 'x'\nB = M + K\n")
    assert problems.module_constants(f) == {"M": 4096, "K": 2048, "B": 6144}
    assert problems.safe_eval("2*M*K + max(M, K)", {"M": 3, "K": 4}) == 28
    for bad in ("__import__('os').system('true')", "M.bit_length()", "[M]", "M if M else K", "lambda: 1",
                "2**10**10"):
        with pytest.raises(ValueError):
            problems.safe_eval(bad, {"M": 3, "K": 4})


def test_floor_and_assess():
    path = BY_NAME["matmul_bf16"]
    meta = problems.load_meta(path)
    flops = 2 * 4096 * 4096 * 8192
    floor = roofline.floor_ms(meta, path, roofline.H100_SXM)
    assert math.isclose(floor, flops / 798e12 * 1e3, rel_tol=1e-9)
    tflops, gbps, frac = roofline.assess(meta, path, 2 * floor, "NVIDIA H100 80GB HBM3")
    assert math.isclose(frac, 0.5) and math.isclose(tflops, 399.0)
    assert gbps > 0
    # CPU and unknown GPUs: achieved rates, no fraction
    assert roofline.assess(meta, path, 1.0, "cpu")[2] is None
    assert roofline.assess(meta, path, 1.0, "Some Future GPU")[2] is None
    assert roofline.assess(None, path.with_name("nope.py"), 1.0, "NVIDIA H100 80GB HBM3") == (None, None, None)
    assert roofline.assess(meta, path, None, "NVIDIA H100 80GB HBM3") == (None, None, None)
    # metadata found beside the file when not passed
    assert roofline.assess(None, path, 2 * floor, "NVIDIA H100 80GB HBM3")[2] == pytest.approx(0.5)


def test_memory_bound_floor_and_tf32_rule():
    relu = BY_NAME["relu"]
    meta = problems.load_meta(relu)
    assert roofline.floor_ms(meta, relu, roofline.H100_SXM) == pytest.approx(2 * 4 * 4096 * 16384 / 3000e9 * 1e3)
    conv = problems.load_meta(BY_NAME["conv2d"])
    assert roofline.compute_peak(conv, roofline.H100_SXM) == roofline.H100_SXM.tf32_tflops
    mm = problems.load_meta(BY_NAME["matmul"])
    assert roofline.compute_peak(mm, roofline.H100_SXM) == roofline.H100_SXM.fp32_tflops
    assert roofline.peaks_for("NVIDIA H100 PCIe") is roofline.H100_PCIE
    assert roofline.peaks_for("NVIDIA H200") is roofline.H200
    assert roofline.peaks_for("cpu") is None
    assert set(roofline.H100_SXM.source.values()) >= {"measured", "datasheet"}


def test_bad_expression_gives_unknown_not_crash(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(KB_RELU)
    meta = ProblemMeta(name="p", level=1, flops="open('x')", min_bytes="4*batch_size*dim")
    assert roofline.work(meta, f) == (None, 4 * 16 * 16384)


# ------------------------------------------------------------------ CPU track through the real grader

def _engine():
    try:
        from grader.judge import engine
        from grader.models import GradeRequest
    except ImportError:
        return None, None
    return engine, GradeRequest


@pytest.mark.slow
@pytest.mark.parametrize("path", CPU_SOLUTIONS, ids=ids(CPU_SOLUTIONS))
def test_cpu_track_solution_passes_the_grader(path: Path):
    engine, GradeRequest = _engine()
    if engine is None:
        pytest.skip("grader.judge.engine not available")
    req = GradeRequest(solution=str(path), problem=path.stem, device="cpu", sandbox="local",
                       baseline_compile=False, trials=3, max_timing_s=0.5)
    report = engine.grade(req)
    assert report.status.value == "passed", f"{report.message}\n{report.compile_log[-2000:]}"
    assert report.speedup is not None and report.runtime_ms > 0
    assert report.roofline_fraction is None  # no peaks for CPUs
    assert report.achieved_gbps is not None and report.achieved_gbps > 0
    if report.compile_cached is False and os.environ.get("KG_COMPILE_CACHE") != "off":
        # tests/conftest.py warmed the session's cache (grader cache warm) before the first compile: every C++
        # build with the library's -O3 starts from that header rather than parsing torch/extension.h again.
        assert report.compile_pch == "given", report.compile_pch


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
