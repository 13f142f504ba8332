"""Problem sizes before anything runs: --dims applied at the source, sizes on the meta device, limits and
refusals that fit the machine, and the CLI grading KernelBench's full-size files at a size that fits."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from kgtest import FIXTURES, report_of, run_grader

from grader.judge import problems, sizing
from grader.errors import UsageError

KB1 = Path("/work/shared/kernelbench/level1")
if not KB1.is_dir():
    KB1 = Path(__file__).resolve().parents[2] / "shared" / "kernelbench" / "level1"
RELU, SUM = KB1 / "19_ReLU.py", KB1 / "47_Sum_reduction_over_a_dimension.py"
needs_kb = pytest.mark.skipif(not RELU.is_file(), reason="KernelBench files not here")
GB = 10**9

DERIVED = '''import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, x):
        return x * 2

N = 64
dim = (2 *
       N)  # derived
def get_inputs():
    return [torch.rand(N, dim)]

def get_init_inputs():
    return []
'''


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sizing._memo.clear()


def test_dims_rewrite_the_source_and_derived_sizes_follow(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(DERIVED)
    assert problems.module_constants(f, {"N": 8}) == {"N": 8, "dim": 16}
    src = problems.problem_source(f, {"N": 8})
    assert len(src.splitlines()) == len(DERIVED.splitlines())  # tracebacks keep their line numbers
    mod = problems.load_module(f, {"N": 8})
    assert mod.get_inputs()[0].shape == (8, 16)
    size = sizing.measure(f, {"N": 8})
    assert size.method == "meta" and size.inputs == ["(8, 16) float32"]
    assert size.input_bytes == size.output_bytes == 8 * 16 * 4


def test_unknown_dim_names_the_sizes_the_problem_has(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(DERIVED)
    with pytest.raises(UsageError, match=r"--dims: p\.py has no size named M; its sizes are N=64, dim=128"):
        problems.problem_source(f, {"M": 3})
    with pytest.raises(UsageError, match="is not NAME=INTEGER"):
        problems.parse_dims("N=eight")
    assert problems.parse_dims("batch_size=16, dim=1_024") == {"batch_size": 16, "dim": 1024}


@needs_kb
def test_sizes_on_the_meta_device_are_cached_per_content_and_dims(tmp_path):
    size = sizing.measure(RELU)
    assert size.method == "meta" and size.inputs == ["(4096, 393216) float32"]
    assert size.input_bytes == size.output_bytes == 4096 * 393216 * 4
    assert len(list(sizing.cache_dir().glob("*.json"))) == 1
    sizing._memo.clear()
    assert sizing.measure(RELU) == size                          # from the disk cache
    assert sizing.measure(RELU, {"batch_size": 8}).input_bytes == 8 * 393216 * 4
    assert len(list(sizing.cache_dir().glob("*.json"))) == 2


def test_forward_without_a_meta_kernel_is_scaled_from_a_small_run(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(DERIVED.replace("return x * 2", "return x[x > 2]  # data-dependent: no meta kernel"))
    size = sizing.measure(f)
    assert size.method == "scaled" and size.input_bytes == 64 * 128 * 4
    assert size.output_bytes == 0 and "reduced sizes" in size.note  # rand() < 1: nothing is > 2


MACHINE = sizing.Machine(host_bytes=25 * GB, gpu_bytes=None, disk_free=100 * GB)


@needs_kb
def test_too_big_is_refused_with_need_have_and_the_dims_to_try():
    with pytest.raises(sizing.TooBig) as e:
        sizing.plan_for(SUM, None, "cpu", machine=MACHINE)
    msg = str(e.value)
    assert msg.startswith("47_Sum_reduction_over_a_dimension.py: at these sizes the problem (inputs 8.59 GB")
    assert "needs 21.5 GB of host memory" in msg and "this machine has 25 GB of RAM" in msg
    assert msg.endswith("e.g. --dims batch_size=32")
    plan = sizing.plan_for(SUM, {"batch_size": 32}, "cpu", machine=MACHINE)
    assert plan.timing_sets == 3 and 4 * GB <= plan.host_limit <= (0.8 * 25 * GB) / 2


def test_timing_sets_shrink_before_a_refusal_and_limits_follow_the_size():
    size = sizing.ProblemSize(method="meta", input_bytes=3 * GB, output_bytes=1000, largest_output=1000, param_bytes=0)
    assert sizing.plan(size, "cpu", MACHINE).timing_sets == 2      # 3 sets of 3 GB do not fit a 9.5 GB share
    tiny = size.model_copy(update={"input_bytes": 1000})
    plan = sizing.plan(tiny, "cpu", MACHINE)
    assert plan.timing_sets == 3 and plan.host_limit == sizing.MIN_HOST_LIMIT
    gpu = sizing.Machine(host_bytes=128 * GB, gpu_bytes=80 * GB, disk_free=100 * GB)
    big = size.model_copy(update={"input_bytes": 20 * GB})
    with pytest.raises(sizing.TooBig, match=r"needs 36\.1 GB of GPU memory per worker; the GPU has 80 GB, "
                                            r"of which a worker may take 36 GB"):
        sizing.plan(big.model_copy(update={"input_bytes": 35 * GB}), "cuda", gpu)
    assert sizing.plan(big, "cuda", gpu).timing_sets == 1
    with pytest.raises(sizing.TooBig, match="needs 3 GB of host memory per worker for its data alone; "
                                            "--memory-limit-mb gives 2 GB"):
        sizing.plan(size, "cpu", MACHINE, memory_limit=2 * GB)
    given = sizing.plan(tiny, "cpu", MACHINE, memory_limit=GB)  # a limit the user sets is taken as given
    assert given.host_limit == given.host_share == GB
    assert plan.host_share == (0.8 * 25 * GB - sizing.GRADER_BASE - 3000) // 2  # the reference's: all its share
    out = size.model_copy(update={"input_bytes": 1000, "output_bytes": 3 * GB, "largest_output": 3 * GB})
    plan = sizing.plan(out, "cpu", MACHINE.model_copy(update={"host_bytes": 64 * GB}))
    assert plan.file_bytes > 3 * GB and plan.disk_bytes >= 7 * GB  # the handed-over file fits


# ------------------------------------------------------------------ the CLI

CPU = ["--device", "cpu", "--sandbox", "local", "--no-compile-baseline", "--max-timing-s", "0.5", "--json"]


@needs_kb
@pytest.mark.skipif(psutil.virtual_memory().total > 56 * GB, reason="this machine has room for 19_ReLU")
def test_full_size_relu_is_refused_before_anything_starts():
    proc = run_grader("check", str(FIXTURES / "relu_torch.py"), "--problem", str(RELU), *CPU, timeout=120)
    report = report_of(proc.stdout, proc.stderr)
    assert proc.returncode == 1 and report["status"] == "resource_limit"
    assert "19_ReLU.py: at these sizes the problem (inputs 6.44 GB, outputs 6.44 GB) needs" in report["message"]
    assert "this machine has" in report["message"] and "--dims batch_size=" in report["message"]
    assert '"phase":"load"' not in proc.stderr  # no worker was started


@needs_kb
@pytest.mark.parametrize("problem, solution, dims", [(RELU, "relu_torch.py", "batch_size=8"),
                                                     (SUM, "sum_torch.py", "batch_size=2,dim1=256,dim2=255")])
def test_kernelbench_full_size_files_grade_with_dims(problem, solution, dims):
    proc = run_grader("check", str(FIXTURES / solution), "--problem", str(problem), "--dims", dims, *CPU)
    report = report_of(proc.stdout, proc.stderr)
    assert report["status"] == "passed", report["message"]
    assert report["dims"] == problems.parse_dims(dims)


def test_unknown_dims_is_a_one_line_usage_error_without_a_header():
    proc = run_grader("check", str(FIXTURES / "relu_torch.py"), "--problem", str(FIXTURES / "kernelbench_relu.py"),
                      "--device", "cpu", "--dims", "batch=4")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("grader: error: --dims: kernelbench_relu.py has no size named batch; "
                                   "its sizes are batch_size=16, dim=16384")


def test_sizing_never_allocates_where_the_problem_names_a_device(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(DERIVED.replace("return [torch.rand(N, dim)]", 'return [torch.rand(N, dim, device="cuda").to("cuda")]')
                 .replace("return x * 2", 'return x.to("cuda", torch.float16)'))
    size = sizing.measure(f)  # with no GPU here, a real allocation would fail; on a GPU it would take its memory
    assert size.method == "meta" and size.input_bytes == 64 * 128 * 4 and size.output_bytes == 64 * 128 * 2
