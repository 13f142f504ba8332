"""Records that cross a process or file boundary: requests, progress events, reports.

Every one is a pydantic model so that what the worker, the CLI, the TUI and the
gradebook exchange is validated on the way in, not trusted.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Status(str, enum.Enum):
    passed = "passed"
    incorrect = "incorrect"
    compile_error = "compile_error"
    runtime_error = "runtime_error"
    timeout = "timeout"
    resource_limit = "resource_limit"
    policy_violation = "policy_violation"


class Phase(str, enum.Enum):
    load = "load"          # start the worker, import the problem
    compile = "compile"    # import the solution: load_inline compiles here
    correctness = "correctness"
    timing = "timing"
    baseline = "baseline"  # eager and torch.compile timings of the reference
    done = "done"


class Timeouts(BaseModel):
    """Seconds each phase may take before its worker is killed."""

    model_config = ConfigDict(extra="forbid")
    compile: float = Field(300.0, gt=0)
    correctness: float = Field(120.0, gt=0)
    timing: float = Field(120.0, gt=0)


def _known_sandbox(name: str) -> str:
    import sandbox  # late: the jail reads this module and has no sandbox package

    if name not in sandbox.CHOICES:
        raise ValueError(f"unknown sandbox {name!r}; choose one of {', '.join(sandbox.CHOICES)}")
    return name


SandboxName = Annotated[str, AfterValidator(_known_sandbox)]


class GradeOptions(BaseModel):
    """How to grade, whatever the solution and problem: the options `grader check` takes, the TUI's settings
    offer (tests check both) and GradeRequest carries. A new option added here reaches all three."""

    model_config = ConfigDict(extra="forbid")
    problems_dir: str | None = Field(None, description="extra folder of KernelBench-format problems")
    device: Literal["cuda", "cpu"] = "cuda"
    sandbox: SandboxName = Field("auto", description="worker isolation: auto or a provider of sandbox.BACKENDS")
    trials: int = Field(5, ge=1, le=100)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    baseline_compile: bool = Field(True, description="also time torch.compile of the reference")
    strict: bool = Field(False, description="refuse solutions that launch no custom kernel")
    max_timing_s: float = Field(10.0, gt=0, description="time cap of one timing loop")
    cpu_threads: int = Field(1, ge=1, le=256, description="threads (and cores) both sides of a CPU grading run on")
    precision: Literal["fp32", "fp16", "bf16"] | None = Field(
        None, description="grade a variant of the problem in this dtype: floating inputs and the models cast")
    memory_limit_mb: int | None = Field(None, description="host memory cap of a worker")
    gpu_memory_limit_mb: int | None = Field(None, description="GPU memory cap of a worker")
    profile: bool = Field(False, description="after a passing CUDA grading, profile one forward of the candidate "
                          "with Nsight Compute (--profile)")


class GradeRequest(GradeOptions):
    """Everything `grade()` needs; the CLI, the TUI and batch grading build one of these."""

    solution: str = Field(description="path of the ModelNew file")
    problem: str = Field(description="bundled problem name or path of a KernelBench-format file")
    baselines: KnownBaselines | None = Field(None, description="trusted baseline timings measured earlier; "
                                             "when set, the baselines are not timed again")
    dims: dict[str, int] = Field(default_factory=dict, description="module-level sizes of the problem to "
                                 "override (--dims), for both workers and the sizing")


class ProgressEvent(BaseModel):
    """One live update; `kind` says which fields are meaningful."""

    model_config = ConfigDict(extra="forbid")
    phase: Phase
    kind: Literal["start", "trial", "timing", "log", "end"]
    message: str = ""
    index: int | None = None    # trial or timing run, 1-based
    total: int | None = None
    ok: bool | None = None      # outcome of a trial or phase
    median_ms: float | None = None  # running median of a timing loop: the statistic the result uses
    rel_err: float | None = None  # relative standard error of the running mean
    label: str | None = None    # which model is timed: candidate, eager, compile
    at_s: float | None = None   # seconds since the grading started


class ClockStats(BaseModel):
    """The GPU's clocks while a timing loop ran, sampled through NVML by the trusted side."""

    model_config = ConfigDict(extra="forbid")
    sm_mhz_min: int
    sm_mhz_max: int
    mem_mhz_min: int
    mem_mhz_max: int
    throttle_reasons: list[str] = Field(default_factory=list, description="why the board held clocks down")
    samples: int


class TimingStats(BaseModel):
    """What one timing loop measured. Times are per call of forward(), in milliseconds."""

    model_config = ConfigDict(extra="forbid")
    clock: Literal["cuda_event", "host"] = Field(description="what timed each run")
    runs: int
    median_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    rel_sem: float = Field(description="standard error of the mean over the mean")
    stopped_by: Literal["rel_err", "time_cap", "max_runs"]
    l2_flushed: bool
    l2_persist_reset: bool = Field(False, description="persisting L2 lines were demoted before each batch")
    graph_median_ms: float | None = Field(None, description="median replay of one call captured in a CUDA graph: "
                                          "the kernels without Python's launch path")
    clocks: ClockStats | None = Field(None, description="set by the trusted side, never by the worker")


class KnownBaselines(BaseModel):
    """Baseline timings the trusted side measured earlier on this device (batch grading times them once
    per problem per GPU); a request that carries them skips timing the baselines."""

    model_config = ConfigDict(extra="forbid")
    eager: TimingStats
    compile: TimingStats | None = None


class TensorCheck(BaseModel):
    """How one output of one trial compared with the reference."""

    model_config = ConfigDict(extra="forbid")
    ok: bool
    reason: str = ""
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    worst_index: list[int] | None = None
    worst_got: float | None = None
    worst_expected: float | None = None


class TrialResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    label: str = Field(description="'trial' or 'timed' for an output produced while timing")
    ok: bool
    outputs: list[TensorCheck] = Field(default_factory=list)
    message: str = ""


class PrecisionAudit(BaseModel):
    """How far the candidate's output and eager PyTorch's are from a float64 run of the reference."""

    model_config = ConfigDict(extra="forbid")
    reference: str = Field("float64", description="precision of the run both are measured against")
    candidate_err: float | None = Field(None, description="candidate's error against the high-precision run "
                                        "(null when the audit was skipped: see note)")
    eager_err: float | None = Field(None, description="eager PyTorch's error against the same run")
    probe_err: float | None = Field(None, description="error of the float64 run from inputs and weights rounded "
                                    "to probe_bits mantissa bits: what that lower precision costs on these inputs")
    probe_bits: int | None = Field(None, description="mantissa bits of that rounding (10: TF32, for float32)")
    dtype: str = Field("", description="the dtype the outputs were judged in")
    metric: str = Field("rel_l2", description="how the errors are measured: ||out - ref|| / ||ref||")
    flagged: bool = Field(False, description="true when the candidate computes in lower precision than asked")
    note: str = ""


class ProfileRow(BaseModel):
    """One kernel of the candidate's profiled forward, as Nsight Compute measured it (grader/judge/ncu.py); launches of
    the same kernel are summed (duration) or averaged weighted by duration (the shares of peak)."""

    model_config = ConfigDict(extra="forbid")
    kernel: str
    launches: int = 1
    duration_us: float | None = Field(None, description="GPU time of all its launches, microseconds")
    dram_pct: float | None = Field(None, description="DRAM throughput, % of peak")
    sm_pct: float | None = Field(None, description="SM throughput, % of peak")
    occupancy_pct: float | None = Field(None, description="achieved occupancy: active warps, % of the maximum")
    registers: int | None = Field(None, description="registers per thread")
    grid: str = ""
    block: str = ""
    limiter: str = Field("", description="the unit nearest its peak (SM, DRAM, L2, L1), or 'latency' when none "
                         "reaches 60%: then neither compute nor memory bounds it")


class Report(BaseModel):
    """The verdict. `--json` prints this; docs/report-schema.md documents it."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = 1
    status: Status
    message: str
    problem: str
    solution: str
    device: str
    sandbox: str = ""
    speedup: float | None = None
    speedup_compile: float | None = None
    speedup_trusted: bool = Field(False, description="false when a cross-check disagreed with the events")
    runtime_ms: float | None = Field(None, description="the candidate's time per call that the speedup uses")
    speedup_basis: str = Field("", description="which measurement the speedup uses, and why")
    trusted_runtime_ms: float | None = Field(None, description="the candidate's ms per call by the grader's own clock")
    trusted_clock_s: float | None = Field(None, description="seconds the grader's own clock measurements took")
    windows_ms: dict[str, list[float]] = Field(default_factory=dict, description="the grader's own clock: each "
                                               "counted window of `window_calls` calls, per side")
    window_calls: int | None = None
    runtime: TimingStats | None = None
    baseline_ms: float | None = None
    baseline: TimingStats | None = None
    baseline_compile_ms: float | None = None
    baseline_compile: TimingStats | None = None
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    achieved_tflops: float | None = None
    achieved_gbps: float | None = None
    roofline_fraction: float | None = Field(None, description="floor time over runtime: 1.0 is the fastest possible")
    trials: list[TrialResult] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    compile_cached: bool | None = Field(None, description="the solution's extensions came from the compile cache")
    compile_pch: Literal["made", "given"] | None = Field(None, description="torch/extension.h precompiled for the "
                                                         "last extension built: made beside it for later builds "
                                                         "(kept in the compile cache), or given to it from there")
    baseline_compile_cached: bool | None = Field(None, description="the reference's torch.compile artifacts came "
                                                 "from the compile cache (an earlier grading of the same problem)")
    precision: PrecisionAudit | None = None
    dtype: str = Field("", description="dtype of the graded variant when --precision asked for one")
    kernels: list[str] = Field(default_factory=list, description="GPU kernels the candidate's profiled forward "
                               "launched (the worker's word), named when none of them is the solution's own")
    dims: dict[str, int] = Field(default_factory=dict, description="problem sizes overridden with --dims")
    compile_log: str = ""
    worker_log: str = ""
    started_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    duration_s: float = 0.0
    versions: dict[str, str] = Field(default_factory=dict)
    backend: str = Field("", description="kernel language of the solution, read from its imports: cuda, triton, "
                         "cute (grader/jail/backends.py)")
    profile: list[ProfileRow] | None = Field(None, description="Nsight Compute's summary per kernel of one "
                                             "profiled forward (--profile); null when not asked")
    profile_note: str = Field("", description="why the profile is empty or partial (ncu refused, timed out)")
    baselines_given: bool = Field(False, description="the baselines came with the request (measured earlier "
                                  "on this device by a batch) instead of being timed in this grading")

    @property
    def passed(self) -> bool:
        return self.status is Status.passed


class ProblemMeta(BaseModel):
    """Metadata stored beside a problem as NAME.json."""

    model_config = ConfigDict(extra="forbid")
    name: str
    level: int = Field(ge=0, le=4)
    tags: list[str] = Field(default_factory=list)
    dtype: str = "float32"
    atol: float | None = None
    rtol: float | None = None
    flops: str | None = Field(None, description="python expression over the problem module's integer constants, "
                                                "e.g. '2*M*N*K'")
    min_bytes: str | None = Field(None, description="same kind of expression: fewest bytes a kernel must move")
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    device: Literal["cuda", "cpu", "any"] = "any"
    strict: bool = False
    description: str = ""
    test_sizes: dict[str, int] = Field(default_factory=dict, description="smaller values of the module's integer "
                                       "constants for a quick CPU run of the reference (tests, `problems show`)")
