"""Inside the worker: load a problem and a model, make seeded inputs, run and time the model."""

from __future__ import annotations

import importlib.util
import os
import random
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from grader.errors import UsageError
from grader.jail import backends
from grader.jail.float64 import VARIANTS, cast_floating
from grader.protocol import cuda_share
from grader.protocol.messages import CudaTensor, FileTensor, Load, Time, Window
from grader.protocol.problem_file import load_module
from grader.protocol.wire import write_tensor

_sync = torch.cuda.synchronize
_manual_seed = torch.manual_seed
_Tensor = torch.Tensor

WINDOW_LEAD_CYCLES = 2_000_000  # ~1 ms at Hopper's clocks, once per window: the host's head start on the GPU
WINDOW_PAD_BYTES = 2 << 30  # zeroed before each window call: ~0.6 ms on an H200, more than a call's host path
                            # there (making inputs and launching, up to ~0.5 ms in a jailed worker)
BUILD_ERROR_MARKERS = ("Error building extension", "error:", "ninja: build stopped")


def _is_build_error(e: BaseException) -> bool:
    """A build's failure (load_inline's, or a JIT's compiler output) raised at import or at the first call. A
    CUDA runtime error ("CUDA error: an illegal memory access ...") also reads "error:", but a kernel ran."""
    text = str(e)
    if isinstance(e, torch.AcceleratorError) or text.lstrip().startswith("CUDA error:"):
        return False
    return any(m in text for m in BUILD_ERROR_MARKERS)


class WorkerError(Exception):
    """A failure with a verdict attached: kind is a report status or 'problem_error'."""

    def __init__(self, kind: str, message: str, detail: str = ""):
        super().__init__(message)
        self.kind = kind
        self.detail = detail


def _import(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _seed(seed: int) -> None:
    random.seed(seed)
    _manual_seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)


def _cpu_shims() -> None:
    # KernelBench files often call .cuda() in get_inputs or __init__; on a CPU grading
    # those calls must keep tensors where they are.
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self


def _cap_gpu_memory() -> None:
    # The grader's GPU memory limit, applied inside so that an honest solution that asks for too much
    # gets a clean out-of-memory error. A solution can lift it (set_per_process_memory_fraction(1.0));
    # the sandbox's watchdog enforces the same limit from outside, where the solution cannot reach.
    cap = int(os.environ.get("KG_GPU_MEMORY_BYTES") or 0)
    if cap <= 0:
        return
    total = torch.cuda.get_device_properties(0).total_memory
    usable = max(cap - (768 << 20), cap // 2)  # leave room for the CUDA context, which NVML counts too
    torch.cuda.set_per_process_memory_fraction(min(1.0, usable / total), 0)


def _first_error_line(text: str) -> str:
    """The compiler's first `error:` line, with the private build folder stripped from its path."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if re.search(r"\berror\b:", ln) and not ln.startswith("Error building"):
            return re.sub(r"^\S*/", "", ln)[:300]
    return (lines[0] if lines else "unknown error")[:300]


def as_outputs(result: Any) -> list:
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    for i, t in enumerate(items):
        if not isinstance(t, _Tensor):
            raise WorkerError("incorrect", f"output {i} is a {type(t).__name__}, not a torch.Tensor")
        if type(t) is not _Tensor and not isinstance(t, torch.nn.Parameter):
            raise WorkerError("incorrect", f"output {i} is a {type(t).__name__}, a Tensor subclass; "
                                           "return a plain torch.Tensor")
    return items


class ModelRunner:
    def __init__(self, problem, model, device: str, role: str, cast: torch.dtype | None = None):
        self.problem = problem
        self.model = model
        self.device = device
        self.role = role
        self.cast = cast  # the --precision variant: floating inputs (and the model, at load) in this dtype
        self._compiled = None
        self.window_outputs: list[list] | None = None
        self.exporter: cuda_share.Exporter | None = None
        self.handover_note = ""

    @classmethod
    def load(cls, msg: Load) -> ModelRunner:
        device, role = msg.device, msg.role
        if device == "cuda":
            if not torch.cuda.is_available():
                raise WorkerError("runtime_error", "CUDA is not available to the worker; grade with --device cpu")
            torch.cuda.set_device(0)
            _cap_gpu_memory()
        else:
            _cpu_shims()
            # Both sides of a CPU grading run under the same thread count and cores, chosen by the grader.
            if msg.threads:
                torch.set_num_threads(msg.threads)
            if msg.cpus and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, msg.cpus)
        # Before anything imports a JIT: its caches in this worker's private folder, and on a CPU grading what
        # lets the candidate's kernels run on CPU tensors (Triton's interpreter).
        jit = os.path.join(os.environ["KG_EXCHANGE"], backends.JIT_FOLDER) \
            if role == "reference" and os.environ.get("KG_EXCHANGE") else None
        os.environ.update(backends.worker_env(os.environ.get("HOME") or os.getcwd(),
                                              cpu=device == "cpu" and role == "candidate", jit=jit))
        try:
            problem = load_module(msg.problem, msg.dims, name="kg_problem")
        except UsageError as e:
            raise WorkerError("problem_error", str(e), traceback.format_exc(limit=-5))
        model_cls = problem.Model
        if role == "candidate":
            try:
                solution = _import("kg_solution", msg.solution)
            except SyntaxError as e:
                raise WorkerError("compile_error", f"{msg.solution}:{e.lineno}: syntax error: {e.msg}")
            except BaseException as e:  # SystemExit from a build step is a compile failure too
                text = f"{type(e).__name__}: {e}"
                raise WorkerError("compile_error", _first_error_line(str(e)) or text, text[-20000:])
            model_cls = getattr(solution, "ModelNew", None)
            if not isinstance(model_cls, type):
                raise WorkerError("compile_error", f"{msg.solution}: defines no class ModelNew")
        seed = msg.init_seed
        cast = VARIANTS.get(msg.precision)
        try:
            _seed(seed)
            init = problem.get_init_inputs()
            _seed(seed)
            model = model_cls(*init)
            if isinstance(model, torch.nn.Module):
                model = model.to(device) if cast is None else model.to(device=device, dtype=cast)
        except Exception as e:
            text = f"{type(e).__name__}: {e}"
            if role == "candidate" and _is_build_error(e):
                raise WorkerError("compile_error", _first_error_line(str(e)), text[-20000:])
            kind = "runtime_error" if role == "candidate" else "problem_error"
            raise WorkerError(kind, f"constructing the model failed: {text}"[:500], traceback.format_exc(limit=-5))
        runner = cls(problem, model, device, role, cast)
        if role == "candidate":
            runner.warm_up()
        if msg.handover == "cuda" and device == "cuda":
            try:
                runner.exporter = cuda_share.Exporter(torch.cuda.current_device())
            except (OSError, AttributeError, cuda_share.CudaError) as e:  # the engine then reads files
                runner.handover_note = str(e)[:300]
        return runner

    def info(self) -> dict:
        name = torch.cuda.get_device_name() if self.device == "cuda" else "cpu"
        return {"device_name": name, "torch": torch.__version__, "cuda": torch.version.cuda or "",
                "python": sys.version.split()[0], "handover": "cuda" if self.exporter else "files",
                "handover_note": self.handover_note}

    def warm_up(self) -> None:
        """One call on inputs of the problem's shapes, within the compile phase's budget: JITs (Triton, CuTe DSL,
        CuPy, torch.compile inside a solution) compile and autotune at a first call, which must count neither
        against correctness trial 1 nor in the timing. Done for every solution, not only those whose imports
        name a JIT: a first call's lazy work is the compile phase's whatever the source looks like."""
        try:
            inputs = self.inputs(int.from_bytes(os.urandom(7), "little"))
            with torch.no_grad():
                out = self.model(*inputs)
            self._sync()
        except Exception as e:
            if type(e).__name__ in ("OutOfMemoryError", "MemoryError"):
                raise
            text = f"{type(e).__name__}: {e}"
            if backends.is_compile_error(e):
                raise WorkerError("compile_error", backends.compile_error_line(e), text[-20000:])
            if _is_build_error(e):
                raise WorkerError("compile_error", _first_error_line(str(e)), text[-20000:])
            raise WorkerError("runtime_error", f"the first call (the compile phase's warm-up) failed: {text}"[:500],
                              traceback.format_exc(limit=-8))
        del out, inputs

    def inputs(self, seed: int) -> list:
        _seed(seed)
        # Made on the device itself: random tensors of several GB take seconds on the host and
        # microseconds on a GPU. Both workers do the same, so the reference sees the same values.
        with torch.device(self.device):
            made = self.problem.get_inputs()
        made = [x.to(self.device) if isinstance(x, torch.Tensor) else x for x in made]
        return made if self.cast is None else [cast_floating(x, self.cast) for x in made]

    def _sync(self) -> None:
        if self.device == "cuda":
            _sync()

    def _poison(self, like: list) -> None:
        # A lazy kernel that returns torch.empty_like(...) gets whatever the allocator hands
        # back; make sure that is NaN, not a result left behind by an earlier run.
        for shape, dtype in like:
            dt = getattr(torch, dtype)
            t = torch.empty(shape, dtype=dt, device=self.device)
            if dt.is_floating_point or dt.is_complex:
                t.fill_(float("nan"))
            else:
                t.fill_(-1 if dt.is_signed else 123)
            del t

    def run(self, seed: int, poison: list) -> tuple[list, int]:
        """Outputs of one call on the inputs of `seed`, and the bytes those inputs take."""
        inputs = self.inputs(seed)
        self._sync()
        self._poison(poison)
        with torch.no_grad():
            out = self.model(*inputs)
        self._sync()
        in_bytes = sum(x.numel() * x.element_size() for x in inputs if isinstance(x, torch.Tensor))
        return as_outputs(out), in_bytes

    def _fn(self, variant: str) -> Callable:
        if variant == "compile":
            if self._compiled is None:
                self._compiled = torch.compile(self.model)
            return self._compiled
        return self.model

    def time(self, msg: Time, progress, bench) -> tuple[dict, list, int]:
        sets = [self.inputs(s) for s in msg.seeds]
        with torch.no_grad():
            stats, out, idx = bench(self._fn(msg.variant), sets, device=self.device, max_time_s=msg.max_time_s,
                                    graph=msg.variant == "eager", on_progress=progress)
        return stats, as_outputs(out), idx

    def prepare_window(self, msg: Window) -> Callable[[list[int]], None]:
        """The trusted window's calls: the returned function makes one input set per seed (the seeds come
        with 'go', so no output can be computed before the clock starts), calls the model once on each,
        flushing L2 before each call as the timing loop does, and keeps every output for `checksum`.

        On CUDA the GPU must be the bottleneck, so that the window measures GPU time on both sides and their
        host paths (making the inputs, launching) cancel. So each call is preceded by writes of
        WINDOW_PAD_BYTES, the flush buffer zeroed again and again: memory-bound work whose length does not
        follow the SM clock. Two designs measured worse on the H200: a `torch.cuda._sleep` pad per call is
        counted in SM cycles, so a clock that moved between the two sides' windows moved every call by a
        share of it (0.1-0.2 ms); making all inputs before the calls leaves a host-bound stretch whose jitter
        between the two workers' processes was several ms a window."""
        from grader.jail.timing import flush_buffer

        fn = self._fn(msg.variant)
        flush = flush_buffer(self.device)
        passes = 0 if flush is None else max(1, -(-WINDOW_PAD_BYTES // flush.numel()))
        self.window_outputs = None
        self._sync()

        def go(seeds: list[int]) -> None:
            outs = []
            with torch.no_grad():
                if flush is not None:
                    torch.cuda._sleep(WINDOW_LEAD_CYCLES)
                for s in seeds:
                    args = self.inputs(s)
                    for _ in range(passes):
                        flush.zero_()
                    outs.append(as_outputs(fn(*args)))
            self._sync()
            self.window_outputs = outs

        return go

    def checksum(self, seed: int, weigh_abs: bool) -> list[list[float]]:
        from grader.jail.timing import checksum

        if not self.window_outputs:
            raise WorkerError("runtime_error", "checksum asked before a window ran")
        with torch.no_grad():
            return checksum(self.window_outputs, seed, weigh_abs=weigh_abs)

    def profile(self, seed: int) -> list[str] | None:
        """Names of what one forward launched: GPU kernels on CUDA, ATen operators on CPU. A hint only."""
        try:
            from torch.autograd.profiler import profile as cpu_profile
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as _profile

            inputs = self.inputs(seed)
            cuda = self.device == "cuda"
            # On the CPU only ATen operators are wanted, which the autograd profiler records without Kineto:
            # Kineto's start-up alone takes about a second of the grading's core, on each side.
            prof = _profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) if cuda \
                else cpu_profile(use_kineto=False)
            with prof, torch.no_grad():
                self.model(*inputs)
                self._sync()
            names = set()
            for e in prof.events() if cuda else prof.function_events:
                on_gpu = e.device_type == torch.autograd.DeviceType.CUDA
                if (cuda and on_gpu) or (not cuda and e.name.startswith("aten::")):
                    names.add(e.name[:200])
            return sorted(names)[:500]
        except Exception:
            return None

    def profiled_call(self, seed: int) -> None:
        """One forward inside the CUDA profiler's range (Nsight Compute started with --profile-from-start off).
        On the CPU (no profiler range there: the engine profiles CUDA gradings only) just the forward."""
        inputs = self.inputs(seed)
        self._sync()
        cuda = self.device == "cuda"
        if cuda:
            torch.cuda.profiler.start()
        try:
            with torch.no_grad():
                self.model(*inputs)
            self._sync()
        finally:
            if cuda:
                torch.cuda.profiler.stop()

    def hand_over(self, outs: list, folder: Path, tag: str) -> tuple[list[CudaTensor | FileTensor], list[int]]:
        """Descriptions of the outputs and the descriptors that go with the reply (caller sends, then closes).

        On the GPU when the engine asked for it and the export works; an output the export fails for (no
        room for the copy, say) goes as files, which the engine accepts either way."""
        descs: list[CudaTensor | FileTensor] = []
        fds: list[int] = []
        for i, t in enumerate(outs):
            if self.exporter is not None:
                try:
                    fds.append(self.exporter.export(t))
                    descs.append(CudaTensor(dtype=str(t.dtype).removeprefix("torch."), shape=list(t.shape)))
                    continue
                except cuda_share.CudaError:
                    pass
            descs.append(write_tensor(folder, f"{tag}-{i}", t))
        return descs, fds

    def release(self) -> None:
        """The engine has taken over the last reply's outputs: free their exported copies."""
        if self.exporter is not None:
            self.exporter.release()
