"""Which speedup to believe: pure functions of what the workers measured and what the grader's own clock saw.

The worker times with CUDA events (or the host clock on CPU) inside the candidate's own process, where a
solution can rewrite anything. So the trusted side also keeps its own clock: a *window* is one batch of calls
on inputs made from seeds sent only when the clock starts, timed from that order until a checksum over every
output of every call is back (grader/jail/timing.py `checksum`, with weights drawn after the calls). The same
windows, on the same seeds, run on the reference, whose code the grader trusts. The per-call difference of the
windows plus the reference's own event time is the candidate's time by the grader's clock: the harness's
costs (making inputs, flushing, the checksum, the round trips) are the same on both sides and cancel.

The worker's event figure is kept for its precision, and believed only where it is not below that trusted
figure by more than `tolerance()`. docs/timing.md states the bounds; tests/test_trust.py holds every rule.
"""

from __future__ import annotations

import math
import statistics

from pydantic import BaseModel, ConfigDict

from grader.models import TimingStats

# Per-call tolerance of the event figure against the grader's clock: relative, plus a floor for calls
# so short that the window's own jitter (host scheduling, round trips) is a visible share of them.
TOLERANCE_REL = {"cuda": 0.05, "cpu": 0.10}
TOLERANCE_ABS_MS = {"cuda": 0.003, "cpu": 0.05}
NOISE_MARGIN = 0.10       # CPU: rounds whose speedups spread wider than this leave the speedup unknown
EXCESSIVE_SPEEDUP = 20.0
CHECKSUM_SLACK = 1e-5     # float32 partial sums of 4096 weights each: rounding both sides may differ by


class Decision(BaseModel):
    """The speedup to report and how far to trust it."""

    model_config = ConfigDict(extra="forbid")
    speedup: float
    runtime_ms: float
    trusted: bool
    flags: list[str]
    basis: str


def tolerance(ms: float, device: str) -> float:
    return TOLERANCE_REL.get(device, 0.10) * ms + TOLERANCE_ABS_MS.get(device, 0.05)


def resolution(ref_windows_ms: list[float], calls: int, *, paired: bool = False) -> float:
    """How finely the windows pin down a call, in ms. Only the reference's windows count: a candidate could
    make its own windows uneven on purpose to widen the tolerance.

    Unpaired (CUDA): twice how far the reference's shortest window is from its next shortest, spread over
    the calls in one. The trusted figure rests on each side's shortest window; a window that something else
    on the machine slowed (a round trip held up, a driver call) lengthens the spread of all of them but not
    this gap. On the H200, windows of a few calls moved by 0.2-0.8 ms from one to the next, so short calls
    in short windows are known only to a tenth of a ms or so; the tolerance widens by this much.
    `paired` (CPU): the interquartile range of the reference's windows over the calls. The median of n pairs'
    differences has a standard error near 1.25 * sqrt(2) / sqrt(n) of one window's sigma (0.6 sigma for 9),
    and the range is 1.35 sigma: about two standard errors."""
    if paired:
        q = statistics.quantiles(ref_windows_ms, n=4) if len(ref_windows_ms) > 1 else [0.0, 0.0, 0.0]
        return (q[2] - q[0]) / max(calls, 1)
    two = sorted(ref_windows_ms)[:2]
    return 2 * (two[-1] - two[0]) / max(calls, 1)


def trusted_per_call(ref_event_ms: float, cand_windows_ms: list[float], ref_windows_ms: list[float],
                     calls: int, *, paired: bool = False) -> float:
    """The candidate's ms per call by the grader's clock: the reference's event time, plus how much longer
    the candidate's windows took per call than the reference's on the same inputs.

    Unpaired (CUDA: each side's windows run together), the shortest window of each side: whatever else the
    machine does (another thread holding the interpreter, a driver call) only ever adds time to a window.
    `paired` (CPU: window i of each side ran back to back), the median of the pairs' differences: on a busy
    host, load comes and goes within a grading, and the shortest windows of the two sides can come from
    different moments (in CI, beside the other tests, that read an honest 4 us add as 0.21 ms a call); a
    pair shares its moment."""
    if paired:
        diff = statistics.median(c - r for c, r in zip(cand_windows_ms, ref_windows_ms, strict=True))
    else:
        diff = min(cand_windows_ms) - min(ref_windows_ms)
    return max(ref_event_ms + diff / calls, 0.0)


def checksum_matches(cand: float, ref: float, ref_abs: float, weights: float, atol: float, rtol: float) -> bool:
    """Whether two weighted sums can come from outputs that are allclose element by element:
    |sum w (g - e)| <= sum w (atol + rtol |e|), with room for the sums' own rounding."""
    if not math.isfinite(ref):
        return True  # NaN expected somewhere: the correctness trials compare those element by element
    if not math.isfinite(cand):
        return False
    return abs(cand - ref) <= atol * weights + (rtol + CHECKSUM_SLACK) * ref_abs + 1e-9 * weights


def round_spread(ratios: list[float]) -> float:
    """How far per-round speedups spread, as a share of their median."""
    mid = statistics.median(ratios)
    return (max(ratios) - min(ratios)) / mid if mid > 0 else math.inf


def decide(cand: TimingStats, base: TimingStats, trusted_ms: float | None, device: str, *,
           tampering: bool = False, reduced_precision: bool = False, spread: float | None = None,
           resolution_ms: float = 0.0) -> Decision:
    """The rules, in order:
    1. The event figure is used when the grader's clock does not show the call to be slower than it by more
       than `tolerance()` (on CUDA, plus the clock's own `resolution()`); otherwise the grader's figure is
       used, flagged `timing_mismatch`, untrusted. Where the resolution is coarser than the tolerance the
       bound is loose: flagged `coarse_own_clock` (the basis states the bound). On CPU the resolution does
       not widen the tolerance, which would let a forged clock through: a gap beyond the tolerance but
       within the resolution (a busy machine's windows) still takes the grader's figure, untrusted, but is
       flagged `coarse_own_clock`, not `timing_mismatch`: the windows could not tell the two figures apart,
       so nothing says the solution's timing was wrong.
    2. No trusted window (it could not run): the event figure, untrusted.
    3. Static tampering findings, and output computed in lower precision than asked (the precision audit),
       leave any figure untrusted.
    4. On the CPU, rounds interleaved with the baselines whose speedups spread wider than NOISE_MARGIN leave
       the speedup untrusted, flagged `noisy_timing`.
    5. Above EXCESSIVE_SPEEDUP the speedup is flagged `excessive_speedup` (still trusted: the roofline
       check, made by the caller, can withdraw that)."""
    flags: list[str] = []
    trusted = True
    cuda = device == "cuda"
    clock = "CUDA-event median" if cand.clock == "cuda_event" else "host-clock median"
    runtime = cand.median_ms
    tol = tolerance(trusted_ms, device) if trusted_ms is not None else 0.0
    if trusted_ms is None:
        trusted = False
        basis = f"{clock} of {cand.runs} calls; the grader's own clock could not check it"
    elif cand.median_ms >= trusted_ms - tol - (resolution_ms if cuda else 0.0):
        basis = (f"{clock} of {cand.runs} calls; the grader's own clock agrees "
                 f"({trusted_ms:.4g} ms per call, tolerance {tol:.2g} ms"
                 + (f" + its resolution {resolution_ms:.2g} ms" if cuda and resolution_ms else "") + ")")
        if cuda and resolution_ms > tol:
            flags.append("coarse_own_clock")
    else:
        unresolved = cand.median_ms >= trusted_ms - tol - resolution_ms
        flags.append("coarse_own_clock" if unresolved else "timing_mismatch")
        trusted = False
        basis = (f"the grader's own clock: {trusted_ms:.4g} ms per call, where the solution's "
                 f"{clock.split()[0]} timing claimed {cand.median_ms:.4g} ms")
        if unresolved:
            basis += (f"; on this busy machine the windows pin a call down only to {resolution_ms:.2g} ms, "
                      "which cannot tell the two apart")
        runtime = trusted_ms
    if tampering or reduced_precision:
        trusted = False
    if spread is not None and spread > NOISE_MARGIN:
        flags.append("noisy_timing")
        trusted = False
        basis += f"; speedups of the interleaved rounds spread {spread:.0%}, more than {NOISE_MARGIN:.0%}"
    speedup = base.median_ms / runtime if runtime > 0 else math.inf
    if speedup > EXCESSIVE_SPEEDUP:
        flags.append("excessive_speedup")
    return Decision(speedup=speedup, runtime_ms=runtime, trusted=trusted, flags=flags, basis=basis)
