"""One timing function, in the spirit of triton's do_bench, for CUDA and CPU alike, and the checksum of the
trusted window (grader/judge/trust.py), both run inside the worker.

Nothing here is trusted: a solution can rewrite any of it in its own process. The event figures are kept for
their precision and accepted only where the trusted side's own clock agrees (docs/timing.md).
"""

from __future__ import annotations

import ctypes
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

# Bound before any solution is imported: a solution that patches torch.cuda.synchronize,
# Event.elapsed_time or time.perf_counter afterwards does not reach these names.
_perf_counter = time.perf_counter
_Event = torch.cuda.Event
_elapsed = torch.cuda.Event.elapsed_time
_sync = torch.cuda.synchronize

CU_LIMIT_PERSISTING_L2_CACHE_SIZE = 0x06
CHECKSUM_WIDTH = 4096          # length of the random weight vector a checksum cycles over: short rows keep
                               # the float32 partial sums accurate (each row is summed again in float64)
CHECKSUM_CAT = 1 << 26         # outputs smaller than this together are concatenated first: one pass, few launches


def reset_persisting_l2() -> bool:
    """Demote every persisting L2 line and set the persisting carve-out to 0, so nothing a solution marked
    persisting survives the flush. False where the driver or the device does not offer it."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    ok = cuda.cuCtxResetPersistingL2Cache() == 0
    return cuda.cuCtxSetLimit(ctypes.c_int(CU_LIMIT_PERSISTING_L2_CACHE_SIZE), ctypes.c_size_t(0)) == 0 and ok


FLUSH_BYTES = 256 * 10**6  # triton's get_empty_cache_for_benchmark: int(256e6 // 4) int32s


def flush_buffer(device: str) -> torch.Tensor | None:
    """The buffer zeroed before each call, to evict whatever the last call left in L2: triton's do_bench's
    256 MB, or twice the L2 where that is larger. The same size as do_bench's, so that figures compare: with
    2 x L2 (120 MB on the H200) a 4 MB relu read 10-16% faster than do_bench, which flushes 256 MB."""
    if device != "cuda":
        return None
    l2 = torch.cuda.get_device_properties(torch.cuda.current_device()).L2_cache_size
    return torch.empty(max(2 * l2, FLUSH_BYTES), dtype=torch.uint8, device="cuda")


class _Welford:
    """Running mean and variance, so each run costs O(1) to account."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def rel_sem(self) -> float:
        if self.n < 2 or self.mean <= 0:
            return math.inf
        return math.sqrt(self.m2 / (self.n - 1) / self.n) / self.mean


def bench(fn: Callable[..., Any], arg_sets: Sequence[Sequence[Any]], *, device: str,
          warmup_ms: float = 25.0, min_runs: int = 10, max_runs: int = 10_000,
          max_time_s: float = 10.0, target_rel_sem: float = 1e-3, flush_l2: bool = True,
          batch_ms: float = 50.0, graph: bool = False,
          on_progress: Callable[[int, float, float], None] | None = None,
          progress_every_s: float = 0.25) -> tuple[dict, Any, int]:
    """Time `fn(*args)` until the mean is known to `target_rel_sem`, or `max_time_s` runs out.

    Parameters:
        fn: the callable under test, normally a model's forward.
        arg_sets: argument tuples; run i uses arg_sets[i % len(arg_sets)], so a kernel cannot
            keep one input set's result in cache between runs.
        device: "cuda" times each run with CUDA events on the current stream; "cpu" with the host clock.
        warmup_ms: untimed runs first (at least 3), so compilation, autotuning and allocator
            growth stay out of the figures.
        min_runs, max_runs: bounds on the timed runs.
        max_time_s: wall-clock cap on the timed runs; the stopping rule is the relative
            standard error of the mean reaching `target_rel_sem` (GPU MODE uses 0.1%).
        flush_l2: on CUDA, zero a buffer twice the L2 size before each run so every run reads its inputs
            from memory, as a kernel in a real model would; persisting L2 lines are reset before each batch.
        batch_ms: on CUDA, runs are enqueued back to back for about this long between synchronizations,
            as do_bench does: the host enqueues run i+1 while the GPU still flushes for run i, so the
            host's launch latency stays outside the event pair.
        graph: on CUDA, also capture one call in a CUDA graph and time its replays (`graph_median_ms`):
            the kernel time without the Python launch path, for launch-bound problems.
        on_progress: called as (runs, median_ms, rel_sem) about every `progress_every_s`.

    Returns (stats, last_output, last_set): stats is a dict of `grader.models.TimingStats`
    fields; the last output and the index of its argument set let the caller check that
    what ran while being timed was still correct.
    """
    cuda = device == "cuda"
    flush = flush_buffer(device) if flush_l2 else None

    def sync():
        if cuda:
            _sync()

    out = None
    runs_done = 0
    start_warm = _perf_counter()
    while runs_done < 3 or (_perf_counter() - start_warm) * 1e3 < warmup_ms:
        out = fn(*arg_sets[runs_done % len(arg_sets)])
        runs_done += 1
        sync()
    per_call_ms = (_perf_counter() - start_warm) * 1e3 / runs_done

    times: list[float] = []
    acc = _Welford()
    persist_reset = cuda and reset_persisting_l2()
    start = last_progress = _perf_counter()
    stopped_by = "max_runs"
    if cuda:
        batch = max(1, min(1000, int(batch_ms / max(per_call_ms, 1e-3))))
        starts = [_Event(enable_timing=True) for _ in range(batch)]
        ends = [_Event(enable_timing=True) for _ in range(batch)]
    while len(times) < max_runs:
        if cuda:
            n = min(batch, max_runs - len(times))
            if persist_reset:
                reset_persisting_l2()
            for j in range(n):
                if flush is not None:
                    flush.zero_()
                starts[j].record()
                out = fn(*arg_sets[(len(times) + j) % len(arg_sets)])
                ends[j].record()
            _sync()
            new = [_elapsed(starts[j], ends[j]) for j in range(n)]
        else:
            t0 = _perf_counter()
            out = fn(*arg_sets[len(times) % len(arg_sets)])
            new = [(_perf_counter() - t0) * 1e3]
        for ms in new:
            acc.add(ms)
        times += new
        now = _perf_counter()
        if len(times) >= max(min_runs, 2):
            if on_progress and now - last_progress >= progress_every_s:
                on_progress(len(times), statistics.median(times), acc.rel_sem())
                last_progress = now
            if acc.rel_sem() < target_rel_sem:
                stopped_by = "rel_err"
                break
            if now - start > max_time_s:
                stopped_by = "time_cap"
                break
    last_set = (len(times) - 1) % len(arg_sets)

    mean = statistics.fmean(times)
    std = statistics.stdev(times) if len(times) > 1 else 0.0
    stats = {
        "clock": "cuda_event" if cuda else "host",
        "runs": len(times),
        "median_ms": statistics.median(times),
        "mean_ms": mean,
        "std_ms": std,
        "min_ms": min(times),
        "max_ms": max(times),
        "rel_sem": std / math.sqrt(len(times)) / mean if mean > 0 else 0.0,
        "stopped_by": stopped_by,
        "l2_flushed": flush is not None,
        "l2_persist_reset": persist_reset,
        "graph_median_ms": _graph_median(fn, arg_sets[last_set], flush, max_time_s / 10) if cuda and graph else None,
    }
    if on_progress:
        on_progress(len(times), stats["median_ms"], stats["rel_sem"])
    return stats, out, last_set


def _graph_median(fn: Callable[..., Any], args: Sequence[Any], flush: torch.Tensor | None,
                  max_time_s: float, max_runs: int = 200) -> float | None:
    """Median event time of replays of one captured call, or None where the call cannot be captured."""
    rng = torch.cuda.default_generators[torch.cuda.current_device()]
    state = rng.clone_state()
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            fn(*args)  # capture needs the allocator and any lazy initialisation warmed on a side stream
        torch.cuda.current_stream().wait_stream(side)
        _sync()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn(*args)
        times = []
        start = _perf_counter()
        while len(times) < max_runs and (_perf_counter() - start < max_time_s or len(times) < 10):
            evs = []
            for _ in range(min(50, max_runs - len(times))):
                if flush is not None:
                    flush.zero_()
                e0, e1 = _Event(enable_timing=True), _Event(enable_timing=True)
                e0.record()
                g.replay()
                e1.record()
                evs.append((e0, e1))
            _sync()
            times += [_elapsed(a, b) for a, b in evs]
        return statistics.median(times)
    except Exception:  # a forward that syncs, allocates on the host or branches on data cannot be captured
        torch.cuda.synchronize()
        # A capture that fails at its end (work left on a side stream) leaves the CUDA generator marked as
        # capturing: every later random draw, the next inputs' too, would raise. Its state from before, back.
        rng.graphsafe_set_state(state)
        return None


def _as_real(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t) if t.is_complex() else t


def checksum(outputs: Sequence[Sequence[torch.Tensor]], seed: int, *, weigh_abs: bool = False) -> list[list[float]]:
    """For each output position k: [sum over every call and element of w * x (or w * |x|), element count,
    sum of the weights used].

    w cycles over CHECKSUM_WIDTH random weights drawn from `seed + k` after the outputs exist, so the sum can
    only be right if every element of every call was computed: a solution cannot compute just the elements
    or calls that will be checked. The trusted side compares it with the reference's sum of the same weights
    (grader/judge/trust.py), within the bound that allclose on every element implies.
    """
    sums: list[list[float]] = []
    for k in range(len(outputs[0]) if outputs else 0):
        parts = [_as_real(call[k].detach()).reshape(-1) for call in outputs]
        device = parts[0].device
        numel = sum(p.numel() for p in parts)
        if len(parts) > 1 and numel <= CHECKSUM_CAT:
            parts = [torch.cat(parts)]
        work = torch.float64 if parts[0].dtype in (torch.float64, torch.int64, torch.int32) else torch.float32
        width = max(1, min(CHECKSUM_WIDTH, max(p.numel() for p in parts)))
        gen = torch.Generator(device=device).manual_seed(seed + k)
        w = torch.rand(width, generator=gen, device=device, dtype=work)
        total = torch.zeros((), dtype=torch.float64, device=device)
        weights = torch.zeros((), dtype=torch.float64, device=device)  # kept on the device: one sync at the end
        for p in parts:
            full = p.numel() // width * width
            for lo in range(0, full, CHECKSUM_CAT // width * width):
                rows = p[lo:min(full, lo + CHECKSUM_CAT // width * width)].to(work).view(-1, width)
                total += ((rows.abs() if weigh_abs else rows) @ w).sum(dtype=torch.float64)
            tail = p[full:].to(work)
            total += ((tail.abs() if weigh_abs else tail) * w[:tail.numel()]).sum(dtype=torch.float64)
            weights += w.sum(dtype=torch.float64) * (full // width) + w[:tail.numel()].sum(dtype=torch.float64)
        sums.append([float(total), float(numel), float(weights)])
    return sums
