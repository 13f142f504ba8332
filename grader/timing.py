"""One timing function, in the spirit of triton's do_bench, for CUDA and CPU alike."""

from __future__ import annotations

import math
import statistics
import time
from typing import Any, Callable, Sequence

import torch

# Bound before any solution is imported: a solution that patches torch.cuda.synchronize,
# Event.elapsed_time or time.perf_counter afterwards does not reach these names.
_perf_counter = time.perf_counter
_Event = torch.cuda.Event
_elapsed = torch.cuda.Event.elapsed_time
_sync = torch.cuda.synchronize


def bench(fn: Callable[..., Any], arg_sets: Sequence[Sequence[Any]], *, device: str,
          warmup_ms: float = 25.0, min_runs: int = 10, max_runs: int = 10_000,
          max_time_s: float = 10.0, target_rel_sem: float = 1e-3, flush_l2: bool = True,
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
        flush_l2: on CUDA, overwrite a buffer twice the L2 size before each run so every run
            reads its inputs from memory, as a kernel in a real model would.
        on_progress: called as (runs, mean_ms, rel_sem, median_ms) about every `progress_every_s`.

    Returns (stats, last_output, last_set): stats is a dict of `grader.models.TimingStats`
    fields; the last output and the index of its argument set let the caller check that
    what ran while being timed was still correct.

    Besides the per-run time, every run is also bracketed by the host clock around a
    device-wide synchronize (`wall_median_ms`): work hidden on other streams, which events on
    the current stream miss, shows up there.
    """
    cuda = device == "cuda"
    flush = None
    if cuda and flush_l2:
        l2 = torch.cuda.get_device_properties(torch.cuda.current_device()).L2_cache_size
        flush = torch.empty(max(2 * l2, 1 << 20), dtype=torch.uint8, device="cuda")

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

    times: list[float] = []
    walls: list[float] = []
    mean = m2 = 0.0  # Welford's running mean and sum of squares, so each run costs O(1) to account
    start = last_progress = _perf_counter()
    stopped_by = "max_runs"
    i = 0
    while i < max_runs:
        args = arg_sets[i % len(arg_sets)]
        if flush is not None:
            flush.zero_()
        sync()
        if cuda:
            ev0, ev1 = _Event(enable_timing=True), _Event(enable_timing=True)
            t0 = _perf_counter()
            ev0.record()
            out = fn(*args)
            ev1.record()
            sync()
            t1 = _perf_counter()
            ms = _elapsed(ev0, ev1)
        else:
            t0 = _perf_counter()
            out = fn(*args)
            t1 = _perf_counter()
            ms = (t1 - t0) * 1e3
        times.append(ms)
        walls.append((t1 - t0) * 1e3)
        i += 1
        delta = ms - mean
        mean += delta / i
        m2 += delta * (ms - mean)
        if i >= max(min_runs, 2):
            rel_sem = math.sqrt(m2 / (i - 1) / i) / mean if mean > 0 else 0.0
            now = _perf_counter()
            if on_progress and now - last_progress >= progress_every_s:
                on_progress(i, mean, rel_sem, statistics.median(times))
                last_progress = now
            if rel_sem < target_rel_sem:
                stopped_by = "rel_err"
                break
            if now - start > max_time_s:
                stopped_by = "time_cap"
                break

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
        "wall_median_ms": statistics.median(walls),
        "l2_flushed": flush is not None,
    }
    if on_progress:
        on_progress(len(times), mean, stats["rel_sem"], stats["median_ms"])
    return stats, out, (i - 1) % len(arg_sets)
