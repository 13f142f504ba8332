"""`grader check --profile`: the ncu CSV summary (a pure function, on a recorded sample), the refusals, the
CLI's table and its one-line errors where ncu is missing or the grading is not on a GPU."""

from __future__ import annotations

import glob
import io
import os

import pytest

from rich.console import Console

from grader.jail import ncu_run
from grader.judge import ncu
from grader.cli.display import profile_table
from grader.models import ProfileRow, Report, Status
from kgtest import FIXTURES, ROOT, run_grader

SAMPLE = (FIXTURES / "ncu" / "matmul_relu.csv").read_text()


def test_recorded_csv_is_summarised_per_kernel():
    rows = ncu.parse_csv(SAMPLE)
    assert [r.kernel for r in rows] == ["matmul_tiled_kernel", "bias_relu_kernel"]
    mm, relu = rows
    assert mm.launches == 2 and mm.duration_us == 3700.0  # 1,843,520 + 1,856,480 ns: thousands separators read
    assert mm.registers == 40 and mm.grid == "(256, 256, 1)" and mm.block == "(16, 16, 1)"
    # Shares of peak are averaged weighted by each launch's duration.
    assert abs(mm.sm_pct - (71.36 * 1843.52 + 71.02 * 1856.48) / 3700.0) < 0.01
    assert mm.dram_pct == 8.4 and mm.occupancy_pct == 93.68
    assert mm.limiter == "L1"     # 88% of L1's peak is the unit nearest its limit
    assert relu.launches == 1 and relu.duration_us == 13.088 and relu.registers == 16
    assert relu.dram_pct == 79.53 and relu.limiter == "DRAM"


def test_wide_raw_page_and_latency_limiter():
    text = "\n".join([
        '"ID","Kernel Name","Block Size","Grid Size","dram__throughput.avg.pct_of_peak_sustained_elapsed",'
        '"gpu__time_duration.sum","launch__registers_per_thread","sm__throughput.avg.pct_of_peak_sustained_elapsed",'
        '"sm__warps_active.avg.pct_of_peak_sustained_active"',
        '"","","","","%","usecond","register/thread","%","%"',
        '"0","softmax_kernel","(128, 1, 1)","(4096, 1, 1)","31.5","2.5","32","12.25","40"',
    ])
    (row,) = ncu.parse_csv(text)
    assert row.kernel == "softmax_kernel" and row.duration_us == 2.5 and row.registers == 32
    assert row.limiter == "latency"  # no unit reaches 60% of its peak
    assert ncu.parse_csv("==PROF== nothing was profiled\n") == []


def test_refusals_are_one_line():
    rows, note = ncu.summarise("", "==PROF== Connected to process 12\n==ERROR== ERR_NVGPUCTRPERM - The user does "
                                    "not have permission to access NVIDIA GPU Performance Counters on the target "
                                    "device 0.\n")
    assert rows == [] and "ERR_NVGPUCTRPERM" in note and "NVreg_RestrictProfilingToAdminUsers=0" in note
    assert "\n" not in note
    _, note = ncu.summarise("", "==ERROR== Failed to initialize the profiler: LibraryNotLoaded\n")
    assert note == "ncu: Failed to initialize the profiler: LibraryNotLoaded"
    _, note = ncu.summarise("==WARNING== No kernels were profiled.\n", "")
    assert "launched none" in note
    assert ncu.summarise(SAMPLE, "")[1] == ""


def test_ncu_command_profiles_only_the_range_and_writes_csv():
    cmd = ncu_run.argv("/x/ncu", "/kg/w/xchg/ncu.csv", ["python", "-m", "grader.jail.worker"])
    joined = " ".join(cmd)
    for part in ("--profile-from-start off", "--target-processes all", "--clock-control none", "--csv",
                 "--log-file /kg/w/xchg/ncu.csv", ",".join(ncu.METRICS)):
        assert part in joined
    assert cmd[-3:] == ["python", "-m", "grader.jail.worker"]


def test_profile_table_and_note_in_the_cli_output():
    report = Report(status=Status.passed, message="", problem="p", solution="s", device="NVIDIA H200",
                    profile=ncu.parse_csv(SAMPLE))
    out = io.StringIO()
    Console(file=out, width=140).print(profile_table(report))
    text = out.getvalue()
    assert "matmul_tiled_kernel" in text and "3700 us" in text and "79.5%" in text and "DRAM" in text
    refused = report.model_copy(update={"profile": [], "profile_note": "ncu was refused (ERR_NVGPUCTRPERM)"})
    out = io.StringIO()
    Console(file=out, width=140).print(profile_table(refused))
    assert out.getvalue().strip() == "profile: ncu was refused (ERR_NVGPUCTRPERM)"
    assert profile_table(report.model_copy(update={"profile": None})) is None
    assert ProfileRow.model_validate(report.profile[0].model_dump()) == report.profile[0]


def test_missing_ncu_is_a_one_line_usage_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_HOME", "CUDA_PATH", "KG_NCU")}
    env["PATH"] = "/usr/bin:/bin"
    if os.path.exists("/usr/local/cuda/bin/ncu") or glob.glob("/opt/nvidia/nsight-compute/*/ncu"):
        pytest.skip("this machine has ncu where the grader always looks")
    p = run_grader("check", str(ROOT / "solutions" / "level1" / "relu.py"), "--problem", "relu", "--device", "cuda",
                   "--profile", env=env)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Nsight Compute (ncu) is not installed here" in lines[0] and "KG_NCU" in lines[0]


def test_profile_on_the_cpu_is_refused():
    p = run_grader("check", str(ROOT / "solutions" / "cpu" / "cpu_softmax.py"), "--problem", "cpu_softmax",
                   "--device", "cpu", "--profile")
    assert p.returncode == 2
    assert p.stderr.strip() == ("grader: error: --profile: Nsight Compute profiles GPU kernels; grade with --device "
                                "cuda, or drop --profile")


FAKE_NCU = """#!{python}
# Stands in for Nsight Compute: checks the arguments the grader gives ncu, runs the command as ncu does (the
# worker, inside the jail), then writes the recorded CSV where --log-file says, as ncu does once it exits.
import subprocess, sys
args = sys.argv[1:]
opt = lambda name: args[args.index(name) + 1]
assert opt("--profile-from-start") == "off" and opt("--target-processes") == "all", args
assert opt("--clock-control") == "none" and "--csv" in args, args
command = args[args.index("--metrics") + 2:]
code = subprocess.call(command)
with open(opt("--log-file"), "w") as f:
    f.write(open({sample!r}).read())
    f.write("==PROF== worker exit code %d\\n" % code)
sys.exit(code)
"""


def test_profiling_plumbing_through_the_jail_with_a_stand_in_ncu(tmp_path, monkeypatch):
    """Everything of --profile but ncu itself: the jailed launcher execs the ncu it was given, which runs the
    worker; the worker loads the solution, runs the profiled forward and exits; the engine waits for the exit
    and reads the CSV from the worker's exchange folder. (On a CPU grading: the real run needs a GPU.)"""
    import stat
    import sys

    import sandbox
    from grader.judge import engine
    from grader.models import GradeRequest

    tools = tmp_path / "tools"
    tools.mkdir()
    fake = tools / "ncu"
    fake.write_text(FAKE_NCU.format(python=sys.executable, sample=str(tools / "sample.csv")))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    (tools / "sample.csv").write_text(SAMPLE)
    monkeypatch.setenv("KG_SANDBOX_RO_PATHS", str(tools))  # the jail shows it read-only, as /usr/local/cuda
    solution = tmp_path / "add_torch.py"
    solution.write_text("import torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n    def forward(self, a, b):\n"
                        "        return a + b\n")
    req = GradeRequest(solution=str(solution), problem=str(FIXTURES / "add_problem.py"), device="cpu",
                       sandbox="local")
    g = engine.Grading(req, lambda ev: None, __import__("threading").Event())
    box = sandbox.open_sandbox("local")
    rows, note = ncu.profile(g, box, str(fake))
    assert [r.kernel for r in rows] == ["matmul_tiled_kernel", "bias_relu_kernel"], note
    assert note == ""
