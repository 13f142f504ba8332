"""Every message of the engine <-> worker protocol, one pydantic model each (docs/protocol.md).

Both sides build and parse these, so a field is added in one place. Commands carry `cmd` as their
discriminator; replies are matched to the command the engine sent (it always knows which reply it waits
for). Nothing the worker sends is trusted: a reply that does not validate is a protocol violation.

To add a field: give it a default (an older peer then still validates) and document it in docs/protocol.md.
To add a command: a model with a new `cmd` literal, added to `Command`, and its reply model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from grader.models import TimingStats

DType = Literal["float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool",
                "complex64", "complex128"]
Shape = Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=16)]
Seed = Annotated[int, Field(ge=0, lt=1 << 63)]
Tag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Variant = Literal["eager", "compile"]
Handover = Literal["files", "cuda"]
MAX_OUTPUTS = 64   # outputs one reply may hand over: also bounds the descriptors a reply may carry


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- commands: engine -> worker ----------------------------------------------------------------------

class Load(Message):
    """Import the problem (and, for the candidate, the solution) and build the model."""
    cmd: Literal["load"] = "load"
    device: Literal["cuda", "cpu"]
    role: Literal["reference", "candidate"]
    init_seed: Seed
    problem: str
    solution: str | None = None
    handover: Handover = Field("files", description="how outputs should come back: 'cuda' asks for VMM handles")
    dims: dict[str, int] = Field(default_factory=dict, description="module-level sizes to override (--dims)")
    precision: Literal["fp32", "fp16", "bf16"] | None = Field(None, description="cast inputs and model (--precision)")
    threads: int | None = Field(None, ge=1, description="CPU: torch's thread count, the same on both sides")
    cpus: list[int] | None = Field(None, description="CPU: the cores both sides are pinned to")


class Run(Message):
    """One forward on inputs made from `seed`; `poison` are (shape, dtype) pairs to fill with NaN first."""
    cmd: Literal["run"] = "run"
    seed: Seed
    tag: Tag
    poison: list[tuple[Shape, DType]] = Field(default_factory=list)


class Time(Message):
    """The timing loop over the input sets of `seeds`."""
    cmd: Literal["time"] = "time"
    seeds: list[Seed] = Field(min_length=1, max_length=16)
    variant: Variant = "eager"
    tag: Tag
    max_time_s: float = Field(gt=0)


class Window(Message):
    """The grader's own clock (grader/judge/trust.py): answer Ready, then on Go (which carries the input seeds) call
    the model once on inputs made from each seed, keep every output, and answer Done."""
    cmd: Literal["window"] = "window"
    variant: Variant = "eager"


class Go(Message):
    cmd: Literal["go"] = "go"
    seeds: list[Seed] = Field(default_factory=list, max_length=4096)


class Checksum(Message):
    """Weighted sums over every output of the last window's calls, weights drawn from `seed` (timing.checksum);
    with `abs`, of the outputs' magnitudes (the reference's bound, asked outside the clock)."""
    cmd: Literal["checksum"] = "checksum"
    seed: Seed
    abs: bool = False


class Float64(Message):
    """The precision audit (grader/judge/precision.py): the reference on `seed` in float64, inputs and weights rounded
    to `bits` mantissa bits first when given. Sent to the reference worker only."""
    cmd: Literal["float64"] = "float64"
    seed: Seed
    bits: int | None = Field(None, ge=1, le=52)
    budget_bytes: int | None = None
    tag: Tag


class Profile(Message):
    cmd: Literal["profile"] = "profile"
    seed: Seed


class NcuRange(Message):
    """Nsight Compute's profiled range (grader/judge/ncu.py): inputs made from `seed`, then one forward between
    cudaProfilerStart and cudaProfilerStop, so ncu sees the solution's kernels and nothing else; answer Done."""
    cmd: Literal["ncu_range"] = "ncu_range"
    seed: Seed


class Exit(Message):
    cmd: Literal["exit"] = "exit"


Command = Annotated[Load | Run | Time | Window | Go | Checksum | Float64 | Profile | NcuRange | Exit,
                    Field(discriminator="cmd")]
COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


# -- replies: worker -> engine -----------------------------------------------------------------------

class FileTensor(Message):
    """A tensor's raw bytes in files of the exchange folder, in order, each at most wire.PART_BYTES."""
    kind: Literal["file"] = "file"
    dtype: DType
    shape: Shape
    files: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")]] = Field(max_length=1 << 12)


class CudaTensor(Message):
    """A tensor in a CUDA VMM allocation whose POSIX handle rides with the reply (SCM_RIGHTS), in output order."""
    kind: Literal["cuda"] = "cuda"
    dtype: DType
    shape: Shape


TensorDesc = Annotated[FileTensor | CudaTensor, Field(discriminator="kind")]


class Failure(Message):
    ok: Literal[False] = False
    error: str = Field(max_length=64)
    message: str
    detail: str = ""


class WorkerInfo(Message):
    device_name: str
    torch: str
    cuda: str
    python: str
    handover: Handover = Field("files", description="what the worker will use; 'files' when CUDA sharing failed")
    handover_note: str = Field("", description="why the worker fell back to files")


class Loaded(Message):
    ok: Literal[True] = True
    info: WorkerInfo


class Outputs(Message):
    """Reply to Run and Float64: the outputs (and, from the reference, the bytes its inputs took)."""
    ok: Literal[True] = True
    outputs: list[TensorDesc] = Field(min_length=1, max_length=MAX_OUTPUTS)
    last_set: int | None = None
    input_bytes: int | None = Field(None, ge=0)


class Timed(Outputs):
    """The timing loop's statistics, its last output and which input set that came from."""
    stats: TimingStats


class Sums(Message):
    """Per output position: [weighted sum, element count, sum of the weights] (timing.checksum)."""
    ok: Literal[True] = True
    sums: list[Annotated[list[float], Field(min_length=3, max_length=3)]] = Field(max_length=MAX_OUTPUTS)


class Ready(Message):
    ok: Literal[True] = True
    ready: Literal[True] = True


class Done(Message):
    ok: Literal[True] = True
    done: Literal[True] = True


class Profiled(Message):
    ok: Literal[True] = True
    names: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=500)


class Progress(Message):
    """Sent during a timing loop, any number of times before its Timed reply."""
    progress: Literal[True] = True
    runs: int
    median_ms: float
    rel_sem: float


# ---------------------------------------------------------------- builder (grader/jail/builder.py)

class BuildRequest(BaseModel):
    """load_inline's arguments, as the candidate's shim sends them; nothing else reaches the builder."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
    cpp_sources: list[str]
    cuda_sources: list[str] = Field(default_factory=list)
    functions: list[str] | dict[str, str] | None = None
    extra_cflags: list[str] = Field(default_factory=list)
    extra_cuda_cflags: list[str] = Field(default_factory=list)
    extra_ldflags: list[str] = Field(default_factory=list)
    extra_include_paths: list[str] = Field(default_factory=list)
    with_cuda: bool | None = None
    is_python_module: bool = True
    with_pytorch_error_handling: bool = True
    no_implicit_headers: bool = False


class BuildOrder(BaseModel):
    """The grader's one frame to a builder: the request, objects to reuse, and a precompiled torch/extension.h."""

    model_config = ConfigDict(extra="forbid")
    cmd: Literal["build"] = "build"
    request: BuildRequest
    objects: dict[str, str] = Field(default_factory=dict, description="object file -> a reused copy, as seen inside")
    pch: str | None = Field(None, description="a header precompiled with this request's flags, as seen inside")
    make_pch: bool = Field(False, description="precompile the header beside the build, into the exchange folder's "
                           "pch.gch, for later builds")
    pch_only: bool = Field(False, description="with make_pch: precompile the header alone and build no extension "
                           "(grader cache warm)")


class BuildReply(BaseModel):
    """The builder's answer: ok, or the compiler's log; and the precompiled header it made, or was given."""

    model_config = ConfigDict(extra="forbid")
    ok: bool
    log: str = ""
    pch: Literal["made", "given", "none"] = "none"
