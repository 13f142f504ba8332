"""The trusted side of a grading: start workers, ask, compare, cross-check, decide.

Two sandboxed workers run per grading: one holds the reference `Model`, the
other the candidate `ModelNew`. Both make their own inputs from seeds drawn
here, fresh for every trial, so neither can see or touch the other's memory.
Every verdict is decided in this process from raw bytes and this process's own
clock; nothing a worker claims is taken on trust. Messages are the models of
grader/protocol/messages.py; outputs of CUDA gradings come over as VMM handles and are
copied into this process's own GPU memory before they are compared
(grader/protocol/cuda_share.py), others as checked files (grader/protocol/wire.py).
"""

from __future__ import annotations

import math
import os
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

import sandbox
from grader import jail
from grader.errors import Cancelled, UsageError
from grader.jail import backends
from grader.judge import (
    baseline_cache,
    compile_cache,
    compile_map,
    device_check,
    device_lock,
    lint,
    ncu,
    policy,
    precision,
    problems,
    roofline,
    sizing,
    trust,
)
from grader.models import GradeRequest, Phase, PrecisionAudit, ProgressEvent, Report, Status, TimingStats, TrialResult
from grader.protocol import cuda_share
from grader.protocol import messages as m
from grader.protocol.wire import Channel, ChannelTimeout, ProtocolError, read_tensor, tensor_bytes

from .clocks import ClockWatch, throttled
from .compare import compare, tolerance

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)
TIMING_SETS = 3          # input sets the timed runs rotate through
WINDOW_TARGET_S = 0.05   # how long one window of the grader's own clock should take
WINDOWS = 5              # counted windows per side on CUDA, after the WARM_WINDOWS warm-up ones
WINDOW_MAX_CALLS = 2000
WARM_CALLS = 16          # calls of each warm-up window; the second sizes the counted ones
WARM_WINDOWS = 2         # the first pays one-time costs (allocator, lazy loading) that would undersize the rest
WINDOW_MEMORY = 1 << 30  # what a window may keep alive where a worker has no memory limit
WINDOW_MAX_S = 30.0
CPU_ROUNDS = 3           # CPU: candidate and baselines timed in this many alternating rounds
# glibc gives large freed blocks back to the kernel and faults them in again at the next allocation, as often as
# each process's history of allocations says: windows of fresh inputs and kept outputs of the same 4 MB
# hardswish took 27 ms in one process and 55 ms in another, for calls 0.2 ms apart. Kept in the heap, memory is
# touched once, in the warm-up windows, on both sides alike.
CPU_MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40), "MALLOC_TOP_PAD_": str(64 << 20)}
CPU_ROUND_WINDOWS = 3    # CPU: counted windows per side and round. Making the inputs is most of a small CPU
                         # problem's window, and a busy host stretches some windows by 20-40%; the trusted figure
                         # takes the shortest, which more windows pin down (3 in all read honest 8 us calls as
                         # 0.22 ms on a loaded 2-core machine)
RESOURCE_CAUSES = {"memory": "host memory", "gpu_memory": "GPU memory", "pids": "process count",
                   "disk": "disk space"}


class Verdict(Exception):
    """Ends a grading early with a status."""

    def __init__(self, status: Status, message: str, flags: tuple[str, ...] = (), detail: str = ""):
        super().__init__(message)
        self.status, self.message, self.flags, self.detail = status, message, flags, detail


def fresh_seed() -> int:
    return secrets.randbits(62)


class Party:
    """One sandboxed worker and the channel to it."""

    def __init__(self, box: sandbox.Sandbox, role: str, spec: sandbox.WorkerSpec, cancel: threading.Event):
        self.role = role
        self.cancel = cancel
        self.handover: m.Handover = "files"  # 'cuda' once both sides agreed at load
        self.fds: list[int] = []             # descriptors that came with the last reply
        # No honest output is larger than the GPU memory the worker may hold.
        self.max_gpu_bytes = spec.limits.gpu_memory_bytes or (1 << 50)
        try:
            self.worker = box.start(spec)
        except sandbox.SandboxError as e:
            raise Verdict(Status.runtime_error, f"the {role} worker did not start: {e}") from e
        self.chan = Channel(self.worker.channel)

    def close(self) -> None:
        self._close_fds()
        self.worker.close()

    def _close_fds(self) -> None:
        fds, self.fds = self.fds, []
        for fd in fds:
            os.close(fd)

    def failure(self, what: str, timeout: float | None = None, budget: tuple[str, float] | None = None) -> Verdict:
        """The verdict for a worker that stopped answering: limits first, then the way it died."""
        self.worker.kill()
        cause = self.worker.stop_cause()
        flags = ("reference_failed",) if self.role == "reference" else ()
        if cause in RESOURCE_CAUSES:
            return Verdict(Status.resource_limit, f"{self.role} exceeded its {RESOURCE_CAUSES[cause]} limit "
                                                  f"during {what}", flags)
        if cause == "timeout":
            if budget is None:
                return Verdict(Status.timeout, f"{self.role} did not finish {what} within its limit of {timeout:.0f}s",
                               flags)
            # A step gets what is left of its phase's budget: say so, or a 13 s remainder reads like a per-step limit.
            phase, total = budget
            left = f", with {timeout:.0f}s of it left when this step began" if total - timeout >= 1 else ""
            return Verdict(Status.timeout, f"{self.role} did not finish {what}: the {phase} phase's budget of "
                                           f"{total:.0f}s ran out{left} (--timeout S sets each phase's budget)", flags)
        code = self.worker.poll()
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        if code is not None and code < 0:
            try:
                import signal
                how = f"crashed with {signal.Signals(-code).name}"
            except ValueError:
                pass
        return Verdict(Status.runtime_error, f"{self.role} worker {how} during {what}", flags,
                       self.worker.log()[-4000:])

    def call(self, msg: m.Message, timeout: float, what: str, on_progress: Callable[[dict], None] | None = None,
             budget: tuple[str, float] | None = None,
             on_build: Callable[[dict, Callable[[], float]], dict] | None = None) -> dict:
        """Send and wait; `budget` (phase, seconds) names the phase budget that `timeout` is what is left of."""
        try:
            self.chan.send(msg)
        except OSError:
            raise self.failure(what)
        return self.wait(timeout, what, on_progress, budget, on_build)

    def wait(self, timeout: float, what: str, on_progress: Callable[[dict], None] | None = None,
             budget: tuple[str, float] | None = None,
             on_build: Callable[[dict, Callable[[], float]], dict] | None = None) -> dict:
        """The worker's next answer, watching for cancel, the deadline and the worker's death meanwhile.

        `on_build` answers the candidate's build requests (compile cache) within the same deadline."""
        deadline = time.monotonic() + timeout
        while True:
            if self.cancel.is_set():
                raise Cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                self.worker.kill("timeout")
                raise self.failure(what, timeout, budget)
            try:
                reply = self.chan.recv(timeout=min(left, 0.25))
            except ChannelTimeout:
                if self.worker.poll() is not None:
                    raise self.failure(what)
                continue
            except ProtocolError as e:
                if self._still_running() and self.worker.stop_cause() is None:
                    self.worker.kill()
                    raise Verdict(Status.runtime_error, f"{self.role} broke the grading protocol during {what}: {e}",
                                  ("protocol_violation",))
                raise self.failure(what)
            if reply.get("progress") and on_progress:
                on_progress(reply)
                continue
            if reply.get("progress"):
                continue
            if on_build and "build" in reply:
                answer = on_build(reply, lambda: max(deadline - time.monotonic(), 1.0))
                try:
                    self.chan.send(answer)
                except OSError:
                    raise self.failure(what)
                continue
            # Descriptors belong to the reply they came with: exactly one per output declared as CUDA.
            outs = reply.get("outputs")
            declared = sum(isinstance(d, dict) and d.get("kind") == "cuda" for d in outs) \
                if isinstance(outs, list) else 0
            self._close_fds()
            try:
                self.fds = self.chan.take_fds(declared)
            except ProtocolError as e:
                self.worker.kill()
                raise Verdict(Status.runtime_error, f"{self.role} broke the grading protocol during {what}: {e}",
                              ("protocol_violation",))
            return reply

    def _still_running(self, grace_s: float = 1.0) -> bool:
        # A worker that just died closes its channel a moment before the sandbox sees it exit (bwrap
        # reaps its child first): give it that moment, so a crash is not mistaken for bad frames.
        deadline = time.monotonic() + grace_s
        while self.worker.poll() is None:
            if time.monotonic() > deadline:
                return True
            time.sleep(0.02)
        return False

    def tensors(self, reply: m.Outputs, what: str) -> list:
        """The reply's outputs as tensors of this process: on the GPU for CUDA handles, else from files."""
        fds, self.fds = self.fds, []
        try:
            if fds and self.handover != "cuda":
                raise ProtocolError("sent CUDA handles although files were asked for")
            handles = iter(fds)
            return [self._take(d, next(handles)) if isinstance(d, m.CudaTensor)
                    else read_tensor(self.worker.exchange, d) for d in reply.outputs]
        except ProtocolError as e:
            raise Verdict(Status.runtime_error, f"{self.role} handed over a bad tensor during {what}: {e}",
                          ("protocol_violation",))
        finally:
            for fd in fds:
                os.close(fd)
            self.discard(reply)

    def discard(self, reply: m.Outputs) -> None:
        """Let go of a reply's outputs unread: its files (they count against the worker's disk) and handles."""
        self._close_fds()
        for d in reply.outputs:
            if isinstance(d, m.FileTensor):
                for name in d.files:  # names are validated: no '/', no leading '.'
                    (self.worker.exchange / name).unlink(missing_ok=True)

    def _take(self, desc: m.CudaTensor, fd: int):
        import torch

        nbytes = tensor_bytes(desc.dtype, desc.shape)
        if nbytes > self.max_gpu_bytes:
            raise ProtocolError(f"a handle of {nbytes} bytes is more than the worker may hold on the GPU")
        try:
            raw = cuda_share.import_copy(fd, nbytes)
        except cuda_share.CudaError as e:
            raise ProtocolError(str(e)) from e
        except torch.OutOfMemoryError as e:
            raise Verdict(Status.runtime_error, f"the grader has no GPU memory left for the {self.role}'s output "
                                                f"of {nbytes / 2**30:.1f} GiB") from e
        return raw.view(getattr(torch, desc.dtype)).reshape(desc.shape)


def _expect_ok(reply: dict, party: Party, what: str, model: type[M]) -> M:
    """The reply as `model`, or the verdict its failure (or its malformation) calls for."""
    if reply.get("ok") is True:
        try:
            return model.model_validate(reply)
        except ValidationError as e:
            party.worker.kill()
            raise Verdict(Status.runtime_error, f"{party.role} sent a malformed reply during {what}: "
                                                f"{e.errors()[0]['loc']}: {e.errors()[0]['msg']}",
                          ("protocol_violation",)) from e
    kind = reply.get("error")
    message = str(reply.get("message", "no message"))[:2000]
    detail = str(reply.get("detail", ""))[-20000:]
    if party.role == "reference":
        if kind == "problem_error":
            raise UsageError(message)
        raise Verdict(Status.runtime_error, f"the reference failed during {what}: {message}", ("reference_failed",),
                      detail)
    status = {"compile_error": Status.compile_error, "incorrect": Status.incorrect,
              "resource_limit": Status.resource_limit}.get(kind, Status.runtime_error)
    raise Verdict(status, message if status is Status.compile_error else f"{what}: {message}", (), detail)


M = TypeVar("M", bound=m.Message)


def start_builder(box: sandbox.Sandbox, env: dict[str, str], files: dict[str, str], memory_bytes: int | None,
                  cancel: threading.Event) -> Party:
    """A fresh builder worker for one extension: only the compiler runs in it (grader/jail/builder.py)."""
    spec = sandbox.WorkerSpec(module="grader.jail.builder", files=files, pythonpath=[PACKAGE_ROOT],
                              packages=jail.MOUNTED, limits=sandbox.Limits(memory_bytes=memory_bytes), env=env)
    return Party(box, "builder", spec, cancel)


def warm_compile_cache(device: str, sandbox_name: str, cflags: list[str], cache: compile_cache.CompileCache,
                       timeout: float = 600.0) -> tuple[bool, str]:
    """`grader cache warm`: torch/extension.h precompiled, in a jailed builder, for builds on `device` with
    `cflags`, into the cache that gradings in that sandbox read. Whether the cache holds it, and what came of it."""
    try:
        box = sandbox.open_sandbox(sandbox_name)
    except sandbox.SandboxError as e:
        raise UsageError(f"--sandbox {sandbox_name}: {e}") from e
    service = compile_cache.CompileService(
        box, lambda env, files: start_builder(box, env, files, sandbox.Limits().memory_bytes, threading.Event()),
        cache)
    req = m.BuildRequest(name="kg_warm", cpp_sources=[""], cuda_sources=[""] if device == "cuda" else [],
                         extra_cflags=cflags)
    try:
        return service.warm(req, timeout)
    except Verdict as v:
        return False, f"not made: {v.message}"


class Grading:
    """State of one grading; `run()` fills `report`."""

    def __init__(self, req: GradeRequest, emit: Callable[[ProgressEvent], None], cancel: threading.Event):
        self.req = req
        self.emit = emit
        self.cancel = cancel
        self.problem_path = problems.resolve(req.problem, req.problems_dir)
        problems.check_source(self.problem_path)
        self.meta = problems.load_meta(self.problem_path)
        sol = Path(req.solution)
        if not sol.is_file():
            raise UsageError(f"{req.solution}: no such solution file; pass the path of a .py defining ModelNew "
                             "(`grader new PROBLEM` writes a starter)")
        self.solution_path = sol.resolve()
        problems.problem_source(self.problem_path, req.dims)  # an unknown --dims name is bad usage
        self.ncu = ncu.preflight(req.device) if req.profile else ""
        device_check.check(req.device, self.solution_path)
        self.started = time.monotonic()
        self.report = Report(status=Status.passed, message="", problem=str(self.problem_path),
                             solution=str(self.solution_path), device=req.device, dims=req.dims,
                             backend=backends.detect(self.solution_path).name)
        self.plan: sizing.Plan | None = None
        self.source: policy.SourceCheck | None = None

    def _flag(self, *names: str) -> None:
        self.report.flags += [f for f in dict.fromkeys(names) if f not in self.report.flags]

    def event(self, phase: Phase, kind: str, message: str = "", **kw) -> None:
        self.emit(ProgressEvent(phase=phase, kind=kind, message=message,
                                at_s=round(time.monotonic() - self.started, 3), **kw))

    def spec(self, role: str) -> sandbox.WorkerSpec:
        req = self.req
        files = {"problem": str(self.problem_path)}
        if role == "candidate":
            files["solution"] = str(self.solution_path)
        plan = self.plan or self._plan()
        cand = role == "candidate"
        gpu_bytes = (plan.gpu_limit if cand else plan.gpu_share) if req.device == "cuda" else None
        limits = sandbox.Limits(memory_bytes=plan.host_limit if cand else plan.host_share, gpu_memory_bytes=gpu_bytes,
                                gpu=req.device == "cuda",
                                disk_bytes=plan.disk_bytes, file_bytes=plan.file_bytes)
        env = {"KG_GPU_MEMORY_BYTES": str(gpu_bytes)} if gpu_bytes else {}
        if req.device == "cpu":  # libraries that size their thread pools from the environment at import
            env.update({v: str(req.cpu_threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
            env.update(CPU_MALLOC)
        # Only the jail's part of the grader: installed from a wheel, PACKAGE_ROOT is a whole site-packages,
        # whose other packages the worker imports from the Python installation like any program.
        return sandbox.WorkerSpec(module="grader.jail.worker", files=files, pythonpath=[PACKAGE_ROOT],
                                  packages=jail.MOUNTED, limits=limits, env=env)

    def _seed_baseline(self, box: sandbox.Sandbox, cache: compile_cache.CompileCache, ref: Party) -> str | None:
        """Give the reference the torch.compile artifacts of an earlier grading of this problem
        (grader/judge/baseline_cache.py); the entry's key, or None where this grading compiles no baseline."""
        req = self.req
        if not req.baseline_compile or (req.baselines is not None and req.baselines.compile is not None) \
                or not cache.enabled:
            return None
        tools = compile_cache.toolchain(box, self.builds.arch)
        key = baseline_cache.key(self.problem_path, req.dims, req.precision, req.device, req.cpu_threads, tools)
        self.report.baseline_compile_cached = baseline_cache.seed(cache, key, ref.worker.exchange)
        return key

    def _builder(self, box: sandbox.Sandbox, env: dict[str, str], files: dict[str, str]) -> Party:
        return start_builder(box, env, files, (self.plan or self._plan()).host_limit, self.cancel)

    def run(self) -> Report:
        try:
            self._run()
            self.report.status = Status.passed
        except Verdict as v:
            self.report.status = v.status
            self.report.message = v.message
            self._flag(*v.flags)
            if v.status is Status.compile_error:
                self.report.compile_log = v.detail
                located = compile_map.located_errors(v.detail, self.solution_path, limit=1)
                self.report.message = located[0] if located else self.report.message
            elif v.detail and not self.report.worker_log:
                self.report.worker_log = v.detail
        self.report.duration_s = round(time.monotonic() - self.started, 3)
        self.event(Phase.done, "end", self.report.message, ok=self.report.passed)
        return self.report

    def _run(self) -> None:
        req, report = self.req, self.report
        source = policy.check_solution(self.solution_path)
        if not source.ok:
            raise Verdict(Status.compile_error, source.message)
        self._flag(*source.flags)
        self.source = source
        strict = req.strict or (self.meta is not None and self.meta.strict)
        violations = source.strict_violations() if strict else []
        if len(violations) == 1 and not source.custom_kernel:
            raise Verdict(Status.policy_violation, f"{self.solution_path}: strict mode needs a custom kernel "
                                                   "(load_inline, Triton, ...); this solution only calls PyTorch ops")
        if violations:
            raise Verdict(Status.policy_violation, f"{self.solution_path}: strict mode refuses this solution: "
                                                   + "; ".join(violations[:6]))
        self.plan = self._plan()
        try:
            box = sandbox.open_sandbox(req.sandbox)
        except sandbox.SandboxError as e:
            raise UsageError(f"--sandbox {req.sandbox}: {e}") from e
        report.sandbox = box.name

        with ExitStack() as stack:
            self.stack = stack
            self.event(Phase.load, "start", f"starting {box.name} workers")
            cache = compile_cache.for_sandbox(box)
            self.builds = compile_cache.CompileService(box, lambda env, files: self._builder(box, env, files), cache)
            ref = Party(box, "reference", self.spec("reference"), self.cancel)
            stack.callback(ref.close)
            jit_key = self._seed_baseline(box, cache, ref)
            cand = Party(box, "candidate", self.spec("candidate"), self.cancel)
            stack.callback(cand.close)
            self.event(Phase.load, "end", "workers started", ok=True)
            try:
                self._grade(ref, cand)
                if jit_key and report.baseline_compile_cached is False and report.baseline_compile_ms is not None:
                    baseline_cache.harvest(cache, jit_key, ref.worker.exchange, time.monotonic() - self.started)
                if self.ncu:
                    report.profile, report.profile_note = ncu.profile(self, box, self.ncu)
            finally:
                report.worker_log = report.worker_log or cand.worker.log()[-4000:]
        late = [f for f in policy.RUNTIME_STRICT_FLAGS if f in report.flags] if strict else []
        if late:  # found by running it, so only now: the figures stay in the report, the verdict does not
            raise Verdict(Status.policy_violation, f"{self.solution_path}: strict mode refuses this solution: "
                                                   + "; ".join(policy.RUNTIME_STRICT_FLAGS[f] for f in late))

    def _plan(self) -> sizing.Plan:
        """Limits from the problem's own sizes, or a refusal before anything starts when it cannot fit."""
        req = self.req
        try:
            return sizing.plan_for(self.problem_path, req.dims, req.device,
                                   req.memory_limit_mb << 20 if req.memory_limit_mb else None,
                                   req.gpu_memory_limit_mb << 20 if req.gpu_memory_limit_mb else None, TIMING_SETS)
        except sizing.TooBig as e:
            raise Verdict(Status.resource_limit, str(e)) from None

    def _load(self, ref: Party, cand: Party) -> None:
        req = self.req
        init_seed = fresh_seed()
        handover = handover_for(req.device)
        load = m.Load(device=req.device, init_seed=init_seed, role="reference", problem=ref.worker.paths["problem"],
                      handover=handover, dims=req.dims, precision=req.precision,
                      threads=req.cpu_threads if req.device == "cpu" else None,
                      cpus=self.cpu_cores() if req.device == "cpu" else None)
        self.report.dtype = str(precision.VARIANTS[req.precision]).removeprefix("torch.") if req.precision else ""
        ref.chan.send(load)
        self.event(Phase.compile, "start", "importing the solution, then one call (load_inline and JITs compile here)")
        try:
            reply = cand.call(load.model_copy(update={"role": "candidate", "problem": cand.worker.paths["problem"],
                                                      "solution": cand.worker.paths["solution"]}),
                              req.timeouts.compile, "compile", budget=("compile", req.timeouts.compile),
                              on_build=lambda frame, left: self.builds.answer(frame, cand.worker.exchange, left))
        finally:  # also when the phase fails: whether its extensions were built says where the time went
            self.report.compile_cached = self.builds.cached
            self.report.compile_pch = self.builds.pch
        cand_info = _expect_ok(reply, cand, "compile", m.Loaded).info
        reused = self.builds.reused_objects
        self.event(Phase.compile, "end", "compiled (cached)" if self.builds.cached else
                   f"compiled ({reused} object(s) reused)" if reused else "compiled", ok=True)
        # The reference's load was sent before the candidate's compile and has been running alongside it.
        reply = ref.wait(req.timeouts.compile, "load", budget=("compile", req.timeouts.compile))
        info = _expect_ok(reply, ref, "load", m.Loaded).info
        for party, said in ((ref, info), (cand, cand_info)):
            party.handover = "cuda" if handover == "cuda" and said.handover == "cuda" else "files"
        self.report.versions = {k: str(v) for k, v in info.model_dump().items()}
        self.report.versions["candidate_handover"] = cand.handover
        self.report.device = info.device_name

    def _grade(self, ref: Party, cand: Party) -> None:
        req = self.req
        self._load(ref, cand)

        # From here on the device (on CPU, the cores both workers are pinned to) is busy: checks and timings
        # take it one grading at a time, so a batch of gradings compiling side by side never runs anything
        # beside another's timed runs.
        self.stack.enter_context(device_lock.exclusive(req.device, self.cancel, lambda: self.event(
            Phase.correctness, "log", "waiting for another grading to finish on this device"),
            cores=self.cpu_cores() if req.device == "cpu" else None))
        # Correctness: fresh seeds, one reference run and one candidate run each.
        self.event(Phase.correctness, "start", f"{req.trials} trials on fresh random inputs", total=req.trials)
        deadline = time.monotonic() + req.timeouts.correctness
        ranges = None  # each reference output's range over the trials: the weak-check test
        for i in range(1, req.trials + 1):
            seed = fresh_seed()
            left = max(deadline - time.monotonic(), 0.001)
            budget = ("correctness", req.timeouts.correctness)
            ref_reply = _expect_ok(ref.call(m.Run(seed=seed, tag=f"r{i}"), left, f"correctness trial {i}",
                                            budget=budget), ref, f"trial {i}", m.Outputs)
            expected = ref.tensors(ref_reply, f"trial {i}")
            self.in_bytes = ref_reply.input_bytes or 0
            self.out_bytes = sum(t.numel() * t.element_size() for t in expected)
            self.out_dtypes = [t.dtype for t in expected]
            ranges = lint.merge_ranges(ranges, expected)
            poison = [(list(t.shape), str(t.dtype).removeprefix("torch.")) for t in expected]
            left = max(deadline - time.monotonic(), 0.001)
            reply = cand.call(m.Run(seed=seed, tag=f"c{i}", poison=poison), left, f"correctness trial {i}",
                              budget=budget)
            got = cand.tensors(_expect_ok(reply, cand, f"trial {i}", m.Outputs), f"trial {i}")
            trial = self._check(i, "trial", expected, got)
            self.event(Phase.correctness, "trial", trial.message, index=i, total=req.trials, ok=trial.ok)
            if not trial.ok:
                raise Verdict(Status.incorrect, f"wrong output on trial {i}/{req.trials}: {trial.message}")
        self.event(Phase.correctness, "end", f"all {req.trials} trials match", ok=True)
        self._audit(ref, seed, expected, got, ranges)
        del expected, got

        if req.device == "cuda":
            self._time_gpu(ref, cand)
        else:
            self._time_cpu(ref, cand)

    def _time_gpu(self, ref: Party, cand: Party) -> None:
        """The candidate's events and windows, then, once nothing of it is left, the reference's.

        Nothing of the candidate may run while the baselines are timed: a process or a kernel it left behind
        would slow them down and inflate its speedup (pausing it would not stop kernels it queued)."""
        req = self.req
        self.event(Phase.timing, "start", "timing the solution", label="candidate")
        cand_stats = self._time(cand, ref, "candidate", Phase.timing, req.max_timing_s)
        self.event(Phase.timing, "end", f"{cand_stats.median_ms:.4g} ms", ok=True, median_ms=cand_stats.median_ms,
                   label="candidate")
        t0 = time.monotonic()
        calls, plan, warm = self._warm_window(cand, cand_stats.median_ms, WINDOWS)
        cand_windows = warm + [self._window(cand, seeds, weights) for seeds, weights in plan[WARM_WINDOWS:]]
        clock_s = time.monotonic() - t0
        cand_kernels = self._profile(cand)
        cand.close()  # its log stays readable after close()

        base_stats = self._baseline(ref, "eager", req.max_timing_s)
        t0 = time.monotonic()
        ref_windows = [self._window(ref, seeds, weights) for seeds, weights in plan]
        clock_s += time.monotonic() - t0
        self._verify_windows(cand_windows, ref_windows)
        comp_stats = self._baseline(ref, "compile", req.max_timing_s) if req.baseline_compile else None
        self.event(Phase.baseline, "end", "baselines timed", ok=True)
        self._kernel_hint(cand_kernels, self._profile(ref))
        own_clock = self._trusted(base_stats, cand_windows, ref_windows, calls)
        self._decide(cand_stats, base_stats, comp_stats, own_clock, clock_s, None)

    def _time_cpu(self, ref: Party, cand: Party) -> None:
        """Candidate and baselines in alternating rounds, so that load from elsewhere on a busy machine hits
        both; the candidate is paused (every process of it stopped) while the reference is timed."""
        req = self.req
        budget = req.max_timing_s / CPU_ROUNDS
        cand_rounds, base_rounds, comp_rounds = [], [], []
        cand_windows, ref_windows = [], []
        calls, plan = 0, []
        clock_s = 0.0
        for r in range(CPU_ROUNDS):
            what = f"round {r + 1}/{CPU_ROUNDS}"
            self.event(Phase.timing, "start", f"timing the solution, {what}", label="candidate")
            # The output produced while timed is checked in the first round; the windows check every round.
            cand_rounds.append(self._time(cand, ref, "candidate", Phase.timing, budget, check=r == 0))
            self.event(Phase.timing, "end", f"{cand_rounds[-1].median_ms:.4g} ms", ok=True,
                       median_ms=cand_rounds[-1].median_ms, label="candidate")
            t0 = time.monotonic()
            if r == 0:  # the warm-up windows, then CPU_ROUND_WINDOWS counted ones per round
                calls, plan, warm = self._warm_window(cand, cand_rounds[0].median_ms, CPU_ROUNDS * CPU_ROUND_WINDOWS)
                cand_windows += warm
            clock_s += time.monotonic() - t0
            with self._paused(cand):
                base_rounds.append(self._baseline(ref, "eager", budget, what))
                t0 = time.monotonic()
                if r == 0:
                    ref_windows += [self._window(ref, *w) for w in plan[:WARM_WINDOWS]]
                clock_s += time.monotonic() - t0
            # Counted windows in pairs, the candidate's then the reference's on the same seeds, back to back:
            # load that comes and goes lands on both windows of a pair (trust.trusted_per_call, paired).
            t0 = time.monotonic()
            for w in plan[WARM_WINDOWS + r * CPU_ROUND_WINDOWS:WARM_WINDOWS + (r + 1) * CPU_ROUND_WINDOWS]:
                cand_windows.append(self._window(cand, *w))
                with self._paused(cand):
                    ref_windows.append(self._window(ref, *w))
            clock_s += time.monotonic() - t0
            if req.baseline_compile:
                with self._paused(cand):
                    comp_rounds.append(self._baseline(ref, "compile", budget, what))
        self.event(Phase.baseline, "end", "baselines timed", ok=True)
        self._verify_windows(cand_windows, ref_windows)
        self._kernel_hint(self._profile(cand), self._profile(ref))
        cand.close()
        cand_stats = _merge(cand_rounds)
        base_stats = req.baselines.eager if req.baselines else _merge(base_rounds)
        spread = trust.round_spread([b.median_ms / c.median_ms for b, c in zip(base_rounds, cand_rounds)
                                     if c.median_ms > 0] or [0.0])
        own_clock = self._trusted(base_stats, cand_windows, ref_windows, calls, paired=True)
        comp_stats = (req.baselines.compile if req.baselines else _merge(comp_rounds)) if comp_rounds else None
        self._decide(cand_stats, base_stats, comp_stats, own_clock, clock_s, spread)

    @contextmanager
    def _paused(self, cand: Party) -> Iterator[None]:
        """Every process of the candidate stopped: nothing it left running takes the reference's core."""
        cand.worker.pause()
        try:
            yield
        finally:
            cand.worker.resume()

    def _check(self, index: int, label: str, expected: list, got: list) -> TrialResult:
        if len(got) != len(expected):
            return TrialResult(index=index, label=label, ok=False,
                               message=f"returned {len(got)} outputs, expected {len(expected)}")
        checks = [self._compare(g, e) for g, e in zip(got, expected)]
        report = self.report
        for c in checks:
            if c.max_abs_err is not None:
                report.max_abs_err = max(report.max_abs_err or 0.0, c.max_abs_err)
                report.max_rel_err = max(report.max_rel_err or 0.0, c.max_rel_err or 0.0)
        bad = [(k, c) for k, c in enumerate(checks) if not c.ok]
        if bad:
            k, c = bad[0]
            message = (f"output {k}: " if len(checks) > 1 else "") + c.reason
        else:
            message = f"max abs error {max(c.max_abs_err or 0 for c in checks):.3g}"
        trial = TrialResult(index=index, label=label, ok=not bad, outputs=checks, message=message)
        report.trials.append(trial)
        return trial

    def _tolerance(self, dtype) -> tuple[float, float]:
        return tolerance(dtype, self.meta, variant=self.req.precision is not None)

    def _compare(self, got, expected):
        tol = self._tolerance(expected.dtype)
        if self.req.device == "cuda":
            try:  # outputs of several GB compare in well under a second on the GPU
                return compare(got, expected, *tol, device="cuda")
            except (RuntimeError, AssertionError):  # no CUDA here, or the candidate left no memory
                pass
        return compare(got, expected, *tol)

    def _baseline(self, ref: Party, label: str, max_s: float, what: str = "") -> TimingStats:
        """The reference's figure for `label` ('eager' or 'compile'): timed now, or, when the request carries
        baselines the trusted side measured earlier on this device (a batch pins them per problem, so every
        student meets the same figure), those. The reference's windows run either way."""
        given = self.req.baselines
        if given is not None and (label == "eager" or given.compile is not None):
            self.report.baselines_given = True
            return given.eager if label == "eager" else given.compile
        name = "eager PyTorch" if label == "eager" else "torch.compile"
        self.event(Phase.baseline, "start", f"timing {name}" + (f", {what}" if what else ""), label=label)
        return self._time(ref, ref, label, Phase.baseline, max_s)

    def _audit(self, ref: Party, seed: int, expected: list, got: list, ranges: list) -> None:
        """After correctness: whether one constant would have passed every trial (grader/judge/lint.py), then the
        precision audit of the last trial against float64 runs of the reference on its seed
        (grader/judge/precision.py)."""
        if lint.nearly_constant(ranges, [self._tolerance(e.dtype) for e in expected]):
            self._flag("weak_check")
        skip = precision.skip_reason(expected)
        runs: list[list] = []
        for bits in ([] if skip else [None, precision.PROBE_BITS[precision.audited_dtype(expected)]]):
            msg = m.Float64(seed=seed, bits=bits, tag=f"f64-{bits}",
                            budget_bytes=self.spec("reference").limits.memory_bytes)
            reply = ref.call(msg, self.req.timeouts.correctness, "precision audit")
            if reply.get("ok") is not True:  # e.g. it would not fit: the grading goes on without the audit
                skip = f"skipped: {str(reply.get('message', 'the float64 run failed'))[:300]}"
                break
            runs.append(ref.tensors(_expect_ok(reply, ref, "precision audit", m.Outputs), "precision audit"))
        if skip:
            self.report.precision = PrecisionAudit(note=skip)
            self.event(Phase.correctness, "log", f"precision audit {skip}")
            return
        audit = precision.assess(got, expected, runs[0], runs[1], precision.audited_dtype(expected), self.req.device)
        self.report.precision = audit
        self.event(Phase.correctness, "log", f"precision audit: {audit.note}")
        if audit.flagged:
            self._flag("reduced_precision")

    def _time(self, party: Party, ref: Party, label: str, phase: Phase, max_s: float,
              check: bool = True) -> TimingStats:
        """One timing loop in the worker (events on CUDA, the host clock on CPU), with the GPU's clocks
        watched from here; what the candidate produced while being timed is checked (unless `check` is off)."""
        req = self.req
        seeds = [fresh_seed() for _ in range(self.plan.timing_sets if self.plan else TIMING_SETS)]
        variant = "compile" if label == "compile" else "eager"
        what = f"timing ({label})"
        budget = ("timing", req.timeouts.timing)

        def progress(p: dict) -> None:
            self.event(phase, "timing", label=label, index=_int(p.get("runs")), median_ms=_float(p.get("median_ms")),
                       rel_err=_float(p.get("rel_sem")))

        watch = ClockWatch().start() if req.device == "cuda" else None
        try:
            reply = _expect_ok(party.call(m.Time(seeds=seeds, variant=variant, tag=f"t{label}", max_time_s=max_s),
                                          req.timeouts.timing, what, progress, budget), party, what, m.Timed)
        finally:
            clocks = watch.stop() if watch else None
        stats: TimingStats = reply.stats.model_copy(update={"clocks": None})
        if not all(math.isfinite(x) and x >= 0 for x in (stats.median_ms, stats.mean_ms)):
            raise Verdict(Status.runtime_error, f"{party.role} sent impossible timings", ("protocol_violation",))
        stats.clocks = clocks
        if throttled(clocks):
            self._flag("clock_throttled")
        if party.role == "candidate" and check:
            self._check_timed_output(ref, party, seeds, reply, "timed")
        else:
            party.discard(reply)
        return stats

    def _calls(self, per_call_ms: float) -> int:
        """Calls for a window of about WINDOW_TARGET_S; a window keeps every call's outputs, one call's inputs."""
        calls = math.ceil(WINDOW_TARGET_S * 1e3 / max(per_call_ms, 1e-3))
        room = (self.window_memory() - self.in_bytes) // max(self.out_bytes, 1)
        return max(1, min(calls, WINDOW_MAX_CALLS, room))

    def _warm_window(self, cand: Party, per_call_ms: float, counted: int) -> tuple[int, list, list]:
        """The warm-up windows: a few calls each that warm the allocator and pay one-time costs; the last one's
        time by this process's clock, not the worker's word, sizes the counted windows (a result cache that
        makes the worker's loop look fast would otherwise order thousands of real calls). Returns the counted
        windows' calls, every window's seeds (input seeds, checksum weight seed; warm-up ones first), and the
        warm-up windows."""
        warm_calls = min(WARM_CALLS, self._calls(per_call_ms))
        plan = [([fresh_seed() for _ in range(warm_calls)], fresh_seed()) for _ in range(WARM_WINDOWS)]
        warm = [self._window(cand, *w) for w in plan]
        calls = self._calls(warm[-1][0] / warm_calls)
        return calls, plan + [([fresh_seed() for _ in range(calls)], fresh_seed()) for _ in range(counted)], warm

    def _window(self, party: Party, seeds: list[int], weight_seed: int) -> tuple[float, list[list[float]]]:
        """This process's clock around one window: from the order (which carries the input seeds) until the
        checksum, with weights the worker learns only then, is back. The reference also sends the sums of
        weighted magnitudes and of the weights, outside the clock, to bound the comparison."""
        what = f"the grader's own timing of the {party.role}"
        limit = WINDOW_MAX_S if party.role == "candidate" else self.req.timeouts.timing
        _expect_ok(party.call(m.Window(), self.req.timeouts.timing, what), party, what, m.Ready)
        # This thread waits on the worker while the sandbox's watchdogs run Python beside it: a short switch
        # interval hands it the interpreter back within ~0.1 ms of the answer instead of up to 5 ms.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)
        try:
            t0 = time.perf_counter()
            _expect_ok(party.call(m.Go(seeds=seeds), limit, what), party, what, m.Done)
            sums = _expect_ok(party.call(m.Checksum(seed=weight_seed), limit, what), party, what, m.Sums)
            ms = (time.perf_counter() - t0) * 1e3
        except Verdict as v:
            if v.status is not Status.timeout or party.role != "candidate":
                raise
            raise Verdict(Status.timeout, f"{len(seeds)} calls on fresh inputs took over {WINDOW_MAX_S:.0f}s, "
                                          "far longer than the solution's own timing said: its timings cannot be "
                                          "trusted", ("timing_mismatch",))
        finally:
            sys.setswitchinterval(switch)
        got = sums.sums
        if party.role == "reference":
            extra = _expect_ok(party.call(m.Checksum(seed=weight_seed, abs=True), self.req.timeouts.timing, what),
                               party, what, m.Sums).sums
            got = [[s, n, a, w] for (s, n, _), (a, _, w) in zip(got, extra)]
        return ms, got

    def _trusted(self, base: TimingStats, cand: list, ref: list, calls: int, *,
                 paired: bool = False) -> tuple[float, float]:
        """The candidate's ms per call by this process's clock, from the counted windows (after the warm-up
        ones), and how finely they pin it down. `paired`: window i of each side ran back to back."""
        c, r = [round(w, 4) for w, _ in cand[WARM_WINDOWS:]], [round(w, 4) for w, _ in ref[WARM_WINDOWS:]]
        self.report.windows_ms, self.report.window_calls = {"candidate": c, "reference": r}, calls
        return (trust.trusted_per_call(base.median_ms, c, r, calls, paired=paired),
                trust.resolution(r, calls, paired=paired))

    def _verify_windows(self, cand: list, ref: list) -> None:
        """Every output of every call in the candidate's windows must match the reference's, as far as the
        weighted sums can tell: a solution that skipped calls, or computed only some outputs, fails here."""
        for i, ((_, c_sums), (_, r_sums)) in enumerate(zip(cand, ref)):
            if len(c_sums) != len(r_sums):
                raise Verdict(Status.incorrect, f"returned {len(c_sums)} outputs in the grader's own timed calls, "
                                                f"expected {len(r_sums)}", ("wrong_while_timed",))
            for k, ((c, n_c, *_), (r, n_r, r_abs, weights)) in enumerate(zip(c_sums, r_sums)):
                atol, rtol = tolerance(self.out_dtypes[k], self.meta)
                if n_c != n_r or not trust.checksum_matches(c, r, r_abs, weights, atol, rtol):
                    raise Verdict(Status.incorrect, f"outputs of the grader's own timed calls on fresh inputs are "
                                                    f"wrong (window {i + 1}, output {k}: weighted sum {c:.6g}, "
                                                    f"expected {r:.6g})", ("wrong_while_timed",))

    def _profile(self, party: Party) -> list[str] | None:
        """What one forward launched, as the worker's torch.profiler saw it (a hint: the worker could lie)."""
        try:
            reply = party.call(m.Profile(seed=fresh_seed()), min(self.req.timeouts.timing, 120.0),
                               f"profiling ({party.role})")
            return _expect_ok(reply, party, "profiling", m.Profiled).names
        except Verdict:
            return None

    def _kernel_hint(self, cand: list[str] | None, ref: list[str] | None) -> None:
        # Every kernel (operator, on CPU) the reference launches, the candidate launches too: whatever
        # custom kernel it built, PyTorch still does the reference's work. A hint; the worker could lie.
        if cand and ref and self.source is not None and self.source.custom_kernel and set(ref) <= set(cand):
            self._flag("reference_kernels_remain")
        # Which kernels are the solution's own is read here from its file, never taken from the worker.
        if self.req.device == "cuda" and cand is not None and not policy.own_kernels_ran(self.solution_path, cand):
            self._flag("no_custom_kernel")
            self.report.kernels = policy.gpu_kernels(cand)[:50]

    def _check_timed_output(self, ref: Party, cand: Party, seeds: list[int], reply: m.Outputs, label: str) -> None:
        """What the candidate produced while being timed must be right too."""
        idx = reply.last_set
        if idx is None or not 0 <= idx < len(seeds):
            raise Verdict(Status.runtime_error, "candidate named an input set that does not exist",
                          ("protocol_violation",))
        got = cand.tensors(reply, label)
        expected = ref.tensors(_expect_ok(ref.call(m.Run(seed=seeds[idx], tag=f"x{label}"),
                                                   self.req.timeouts.correctness, "reference check"), ref, label,
                                          m.Outputs), label)
        trial = self._check(len(self.report.trials) + 1, label, expected, got)
        if not trial.ok:
            raise Verdict(Status.incorrect, f"output produced while being timed is wrong: {trial.message}",
                          ("wrong_while_timed",))

    def _decide(self, cand: TimingStats, base: TimingStats, comp: TimingStats | None,
                own_clock: tuple[float, float], clock_s: float, spread: float | None) -> None:
        report = self.report
        tampering = self.source is not None and self.source.tampering
        trusted_ms, resolution_ms = own_clock
        d = trust.decide(cand, base, trusted_ms, self.req.device, tampering=tampering, spread=spread,
                         reduced_precision="reduced_precision" in report.flags, resolution_ms=resolution_ms)
        self._flag(*d.flags)
        report.runtime, report.baseline, report.baseline_compile = cand, base, comp
        report.runtime_ms, report.baseline_ms = d.runtime_ms, base.median_ms
        report.trusted_runtime_ms, report.trusted_clock_s = trusted_ms, round(clock_s, 3)
        basis = d.basis
        if self.req.device == "cpu":
            basis += f"; both sides on {self.req.cpu_threads} thread(s), cores {self.cpu_cores()}"
        if cand.graph_median_ms is not None and base.graph_median_ms is not None:
            basis += (f"; replayed as CUDA graphs (no Python launch path): {cand.graph_median_ms:.4g} ms vs "
                      f"eager {base.graph_median_ms:.4g} ms, {base.graph_median_ms / cand.graph_median_ms:.2f}x")
        report.speedup_basis = basis
        trusted = d.trusted
        floor_flags = roofline.assess(self.meta, self.problem_path, d.runtime_ms, report.device, self.req.dims)
        report.achieved_tflops, report.achieved_gbps, report.roofline_fraction = floor_flags
        if report.roofline_fraction is not None and report.roofline_fraction > 1.1:
            self._flag("excessive_speedup")
            trusted = False
        report.speedup = round(d.speedup, 4)
        report.speedup_trusted = trusted
        if comp is not None:
            report.baseline_compile_ms = comp.median_ms
            report.speedup_compile = round(comp.median_ms / d.runtime_ms, 4)
        vs_compile = f", {report.speedup_compile:.2f}x vs torch.compile" if report.speedup_compile else ""
        # coarse_own_clock leaves a speedup untrusted on CPU only (trust.decide, rule 1)
        reasons = ("timing_mismatch", "excessive_speedup", "tampering", "noisy_timing", "reduced_precision",
                   *(("coarse_own_clock",) if self.req.device == "cpu" else ()))
        caveat = "" if trusted else " (not trusted: " + ", ".join(f for f in report.flags if f in reasons) + ")"
        report.message = (f"correct on {self.req.trials} trials; {d.speedup:.2f}x vs eager "
                          f"({d.runtime_ms:.4g} ms vs {base.median_ms:.4g} ms){vs_compile}{caveat}")

    def window_memory(self) -> int:
        """Bytes a window may keep alive: a quarter of the candidate's memory limit (the smaller one) on the
        device it runs on."""
        spec = self.spec("candidate").limits
        limit = spec.gpu_memory_bytes if self.req.device == "cuda" else spec.memory_bytes
        return (limit or WINDOW_MEMORY * 4) // 4

    def cpu_cores(self) -> list[int]:
        """The cores both sides of a CPU grading are pinned to: the last `cpu_threads` this process may use."""
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else list(range(os.cpu_count() or 1))
        return allowed[-self.req.cpu_threads:]


def _merge(rounds: list[TimingStats]) -> TimingStats:
    """One figure for several rounds of the same loop: the median of their medians, their runs pooled."""
    runs = sum(r.runs for r in rounds)
    mean = sum(r.mean_ms * r.runs for r in rounds) / runs
    std = math.sqrt(sum((r.std_ms ** 2 + (r.mean_ms - mean) ** 2) * r.runs for r in rounds) / runs)
    return rounds[0].model_copy(update={
        "runs": runs, "median_ms": statistics.median(r.median_ms for r in rounds), "mean_ms": mean, "std_ms": std,
        "min_ms": min(r.min_ms for r in rounds), "max_ms": max(r.max_ms for r in rounds),
        "rel_sem": std / math.sqrt(runs) / mean if mean > 0 else 0.0,
        "stopped_by": "time_cap" if any(r.stopped_by == "time_cap" for r in rounds) else rounds[-1].stopped_by})


def handover_for(device: str) -> m.Handover:
    """'cuda' where outputs can stay on the GPU (KG_HANDOVER=files forces files, e.g. to compare the two)."""
    if device != "cuda" or os.environ.get("KG_HANDOVER") == "files":
        return "files"
    return "cuda" if cuda_share.unavailable() is None else "files"


def _int(x) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _float(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def grade(request: GradeRequest, on_event: Callable[[ProgressEvent], None] | None = None,
          cancel: threading.Event | None = None) -> Report:
    """Grade one solution. Raises UsageError for bad input and Cancelled when `cancel` is set."""
    return Grading(request, on_event or (lambda e: None), cancel or threading.Event()).run()
