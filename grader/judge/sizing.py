"""How big a problem is before anything runs, and whether a grading of it fits this machine.

`measure()` imports the (trusted) problem file with its `--dims` applied and runs get_inputs() and the
reference's forward on the meta device: shapes and bytes, nothing allocated. A problem whose forward does
not run on meta is run for real at reduced sizes and its outputs scaled up by the ratio of input sizes.
Results are cached per file content + dims, in memory and on disk, so the TUI preview and the grader
ask as often as they like.

`plan()` turns the sizes into each worker's limits (formula in docs/security.md, "Limits fit the
problem") or a `resource_limit` refusal that says how much is needed, how much there is, and the
`--dims` to try.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import threading
from pathlib import Path
from typing import Literal

import psutil
from pydantic import BaseModel, ConfigDict, ValidationError

from grader.errors import UsageError
from grader.judge import problems

GiB = 1 << 30
HOST_CEILING = 0.8       # share of the host's RAM that the grading as a whole may use
GPU_CEILING = 0.9        # share of the GPU's memory that the two workers together may use
WORKER_BASE = {"cpu": int(1.5 * GiB), "cuda": int(2.5 * GiB)}  # Python, torch, a compiler run, on the host
GRADER_BASE = 1 * GiB    # this process: torch and the comparison's working memory
CUDA_CONTEXT = 1 * GiB   # what NVML counts for a worker's context before any tensor
MIN_HOST_LIMIT = 8 * GiB  # a small problem still leaves room for compiling and for the solution's own buffers
MIN_GPU_LIMIT = 4 * GiB
DEFAULT_DISK = 4 * GiB   # sandbox.Limits' defaults, raised when the outputs need more
DEFAULT_FILE = 2 * GiB


class ProblemSize(BaseModel):
    """A problem's inputs, outputs and parameters, measured without allocating them."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["meta", "scaled", "unknown"]
    inputs: list[str] = []          # "(16, 16384) float32" per get_inputs() item
    init_inputs: list[str] = []
    input_bytes: int | None = None   # one set of get_inputs()
    output_bytes: int | None = None  # everything forward() returns
    largest_output: int | None = None
    param_bytes: int | None = None   # the reference's parameters and buffers
    note: str = ""


class Plan(BaseModel):
    """What a grading of this size gets: limits per worker and the number of timing input sets."""

    model_config = ConfigDict(extra="forbid")
    size: ProblemSize
    timing_sets: int
    host_limit: int          # the candidate's: what its sizes need, twice over, within its share
    gpu_limit: int | None
    host_share: int          # the reference's (trusted; its torch.compile baseline starts compile workers)
    gpu_share: int | None
    disk_bytes: int
    file_bytes: int


class TooBig(Exception):
    """The grading would not fit this machine; the message says by how much and what to try."""


# ---------------------------------------------------------------- measuring

_memo: dict[str, ProblemSize] = {}
_lock = threading.Lock()   # the meta run patches torch.Tensor.cuda for the whole process


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kernel-grader" / "sizes"


def _key(path: Path, dims: dict[str, int] | None) -> str:
    # torch's version from its metadata, not an import: a cache hit costs the TUI no torch import at all.
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "?"
    h = hashlib.sha256(Path(path).read_bytes())
    h.update(json.dumps(sorted((dims or {}).items())).encode() + torch_version.encode())
    return h.hexdigest()[:32]


def measure(path: Path, dims: dict[str, int] | None = None) -> ProblemSize:
    """The problem's sizes with `dims` applied; cached per file content + dims. UsageError for unknown dims."""
    problems.problem_source(path, dims)  # unknown names are the caller's mistake, never cached
    key = _key(path, dims)
    with _lock:
        if key in _memo:
            return _memo[key]
    f = cache_dir() / f"{key}.json"
    try:
        size = ProblemSize.model_validate_json(f.read_text())
    except (OSError, ValidationError, ValueError):
        with _lock:
            size = _measure(Path(path), dims)
        if size.method != "unknown":
            try:
                f.parent.mkdir(parents=True, exist_ok=True)
                tmp = f.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(size.model_dump_json())
                tmp.replace(f)
            except OSError:
                pass
    with _lock:
        _memo[key] = size
    return size


def _nbytes(x) -> int:
    import torch

    if isinstance(x, torch.Tensor):
        return x.numel() * x.element_size()
    if isinstance(x, (list, tuple)):
        return sum(_nbytes(y) for y in x)
    return 0


def _describe(x) -> str:
    import torch

    if isinstance(x, torch.Tensor):
        return f"{tuple(x.shape)} {str(x.dtype).removeprefix('torch.')}"
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


def _on(device: str):
    """Every tensor made on `device`, even where the problem names one (`torch.randn(..., device="cuda")`,
    `.to("cuda")`): sizing must never allocate on a GPU, nor fail for want of one."""
    import torch
    from torch.overrides import TorchFunctionMode

    class Redirect(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = dict(kwargs or {})
            if kwargs.get("device") is not None:
                kwargs["device"] = device
            if func is torch.Tensor.to:
                kwargs.pop("device", None)
                args = tuple(a for i, a in enumerate(args) if i == 0 or not isinstance(a, (str, torch.device, int)))
            return func(*args, **kwargs)

    from contextlib import ExitStack

    stack = ExitStack()
    stack.enter_context(torch.device(device))
    stack.enter_context(Redirect())
    return stack


def _run(path: Path, dims: dict[str, int] | None, device: str):
    """(init inputs, inputs, model, outputs or the forward's exception) of one run on `device`."""
    import torch

    mod = problems.load_module(path, dims)
    with _on(device):
        init = mod.get_init_inputs()
        ins = mod.get_inputs()
    try:
        with _on(device), torch.no_grad():
            model = mod.Model(*init)
            out = model(*ins)
        return init, ins, model, out
    except Exception as e:  # noqa: BLE001 - an op without a meta kernel; the caller falls back
        return init, ins, None, e


def _param_bytes(model) -> int:
    import torch

    if not isinstance(model, torch.nn.Module):
        return 0
    return sum(_nbytes(t) for t in (*model.parameters(), *model.buffers()))


def _measure(path: Path, dims: dict[str, int] | None) -> ProblemSize:
    import torch

    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    # KernelBench files often call .cuda() in get_inputs or __init__: here tensors stay where they are made.
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    try:
        try:
            init, ins, model, out = _run(path, dims, "meta")
        except Exception as e:  # noqa: BLE001 - the problem's own error, reported
            first = str(e).splitlines()[0][:120] if str(e) else ""
            return ProblemSize(method="unknown", note=f"sizes unknown: get_inputs() raised {type(e).__name__}: {first}")
        size = ProblemSize(method="meta", inputs=[_describe(x) for x in ins], init_inputs=[_describe(x) for x in init],
                           input_bytes=_nbytes(ins))
        if not isinstance(out, Exception):
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            size.output_bytes, size.param_bytes = _nbytes(outs), _param_bytes(model)
            size.largest_output = max((_nbytes(o) for o in outs), default=0)
            return size
        # No meta kernel for some op: run for real at reduced sizes, then scale by the inputs' ratio.
        small = {k: v for k, v in problems.small_sizes(path).items() if k not in (dims or {})} | {
            k: max(v // 16, 1) for k, v in (dims or {}).items() if v > 64}
        try:
            s_init, s_ins, s_model, s_out = _run(path, small, "cpu")
            if isinstance(s_out, Exception):
                raise s_out
        except Exception as e:  # noqa: BLE001
            size.note = ("output size unknown: forward() failed on the meta device and at reduced sizes "
                         f"({type(e).__name__})")
            return size
        ratio = size.input_bytes / max(_nbytes(s_ins), 1)
        outs = list(s_out) if isinstance(s_out, (list, tuple)) else [s_out]
        size.method = "scaled"
        size.output_bytes = math.ceil(_nbytes(outs) * ratio)
        size.largest_output = math.ceil(max((_nbytes(o) for o in outs), default=0) * ratio)
        size.param_bytes = _param_bytes(model) or math.ceil(_param_bytes(s_model) * ratio)
        size.note = "outputs estimated from a run at reduced sizes, scaled by the inputs' ratio"
        return size
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved


# ---------------------------------------------------------------- planning

class Machine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host_bytes: int
    gpu_bytes: int | None
    disk_free: int

    @classmethod
    def here(cls, device: str) -> Machine:
        from sandbox import gpu_memory
        from sandbox.common import scratch_root

        gpu = None
        if device == "cuda":
            gpu = gpu_memory.total_bytes()
            if gpu is None:
                import torch

                gpu = torch.cuda.get_device_properties(0).total_memory if torch.cuda.is_available() else None
        return cls(host_bytes=psutil.virtual_memory().total, gpu_bytes=gpu,
                   disk_free=shutil.disk_usage(scratch_root()).free)


def gb(n: float) -> str:
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _needs(size: ProblemSize, device: str, sets: int) -> tuple[int, int, int]:
    """(host bytes per worker, GPU bytes per worker, host bytes of this process) with `sets` timing input sets."""
    ins, outs, params = size.input_bytes or 0, size.output_bytes or 0, size.param_bytes or 0
    on_device = params + sets * ins + 2 * outs  # the inputs, the output and the forward's temporaries
    # Each worker holds its last output on the host to hand it over; the handed-over file and the two
    # outputs this process compares (the reference's and the candidate's) come on top.
    grader = GRADER_BASE + 3 * outs
    if device == "cuda":
        return WORKER_BASE["cuda"] + outs, CUDA_CONTEXT + on_device, grader
    return WORKER_BASE["cpu"] + on_device, 0, grader


def plan(size: ProblemSize, device: str, machine: Machine, memory_limit: int | None = None,
         gpu_limit: int | None = None, timing_sets: int = 3) -> Plan:
    """Limits for each worker, and how many timing input sets fit; TooBig when not even one does."""
    host_ceiling = int(machine.host_bytes * HOST_CEILING)
    gpu_share = int(machine.gpu_bytes * GPU_CEILING / 2) if machine.gpu_bytes else None
    if size.method == "unknown":  # nothing to go by: the old fixed shares
        host, gpu = memory_limit or int(host_ceiling / 2), gpu_limit or gpu_share
        return Plan(size=size, timing_sets=timing_sets, host_limit=host, gpu_limit=gpu, host_share=host,
                    gpu_share=gpu, disk_bytes=DEFAULT_DISK, file_bytes=DEFAULT_FILE)
    last = ""
    for sets in range(timing_sets, 0, -1):
        host, gpu, grader = _needs(size, device, sets)
        host_share = memory_limit or (host_ceiling - grader) // 2
        dev_share = gpu_limit or gpu_share
        if (host - WORKER_BASE[device] if memory_limit else host) > host_share:
            if memory_limit:
                last = (f"needs {gb(host - WORKER_BASE[device])} of host memory per worker for its data alone; "
                        f"--memory-limit-mb gives {gb(memory_limit)}")
            else:
                last = (f"needs {gb(2 * host + grader)} of host memory (two workers of {gb(host)} and "
                        f"{gb(grader)} to compare outputs); this machine has {gb(machine.host_bytes)} of RAM, of "
                        f"which a grading may use {HOST_CEILING:.0%} ({gb(host_ceiling)})")
            continue
        if device == "cuda" and dev_share is not None and (gpu - CUDA_CONTEXT if gpu_limit else gpu) > dev_share:
            if gpu_limit:
                last = (f"needs {gb(gpu - CUDA_CONTEXT)} of GPU memory per worker for its data alone; "
                        f"--gpu-memory-limit-mb gives {gb(gpu_limit)}")
            else:
                last = (f"needs {gb(gpu)} of GPU memory per worker; the GPU has {gb(machine.gpu_bytes)}, of which "
                        f"a worker may take {gb(dev_share)}")
            continue
        break
    else:
        raise TooBig(f"{_what(size)} {last}")
    outs = size.output_bytes or 0
    disk = max(DEFAULT_DISK, 2 * outs + GiB)
    if 2 * outs + GiB > machine.disk_free:
        raise TooBig(f"{_what(size)} needs {gb(2 * outs + GiB)} of scratch space to hand outputs over; "
                     f"{gb(machine.disk_free)} is free")
    host_limit = memory_limit or min(host_share, max(MIN_HOST_LIMIT, 2 * host))
    gpu_lim = gpu_limit or (min(dev_share, max(MIN_GPU_LIMIT, 2 * gpu)) if device == "cuda" and dev_share else None)
    return Plan(size=size, timing_sets=sets, host_limit=host_limit, gpu_limit=gpu_lim, host_share=host_share,
                gpu_share=dev_share if device == "cuda" else None, disk_bytes=disk,
                file_bytes=max(DEFAULT_FILE, (size.largest_output or 0) + (64 << 20)))


def _what(size: ProblemSize) -> str:
    return (f"at these sizes the problem (inputs {gb(size.input_bytes or 0)}, outputs {gb(size.output_bytes or 0)}"
            + (f", parameters {gb(size.param_bytes)}" if size.param_bytes else "") + ")")


def suggest_dims(path: Path, dims: dict[str, int] | None, fits) -> dict[str, int] | None:
    """Smaller sizes at which `fits(ProblemSize)` holds: batch_size first, then the largest size, halved
    until it fits (kept a multiple of 8 where it was one). None when halving one size is not enough."""
    consts = problems.module_constants(path, dims)
    order = sorted((k for k, v in consts.items() if v > 1), key=lambda k: (k != "batch_size", -consts[k]))
    for name in order[:4]:
        v = consts[name]
        while v > 1:
            v //= 2
            if consts[name] % 8 == 0 and v >= 8:
                v -= v % 8
            trial = {**(dims or {}), name: v}
            try:
                size = measure(path, trial)
            except UsageError:
                break
            if size.method == "unknown" or (size.input_bytes or 0) >= (measure(path, dims).input_bytes or 0):
                break  # this size does not shape the inputs
            if fits(size):
                return trial
    return None


def plan_for(path: Path, dims: dict[str, int] | None, device: str, memory_limit: int | None = None,
             gpu_limit: int | None = None, timing_sets: int = 3, machine: Machine | None = None) -> Plan:
    """measure + plan on this machine; TooBig's message ends with the `--dims` to try."""
    machine = machine or Machine.here(device)
    size = measure(path, dims)
    try:
        return plan(size, device, machine, memory_limit, gpu_limit, timing_sets)
    except TooBig as e:
        def fits(s: ProblemSize) -> bool:
            try:
                return plan(s, device, machine, memory_limit, gpu_limit, timing_sets).timing_sets == timing_sets
            except TooBig:
                return False

        hint = suggest_dims(path, dims, fits)
        try_ = (f"; grade a smaller instance, e.g. --dims {','.join(f'{k}={v}' for k, v in hint.items())}" if hint
                else "; grade a smaller instance with --dims NAME=VALUE (sizes: "
                     + ", ".join(f"{k}={v}" for k, v in problems.module_constants(path, dims).items()) + ")")
        raise TooBig(f"{path.name}: {e}{try_}") from None
