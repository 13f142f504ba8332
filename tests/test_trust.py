"""The speedup trust rules (grader/judge/trust.py) and the window checksum (grader/jail/timing.py), one row per rule."""

from __future__ import annotations

import math

import pytest
import torch

from grader.judge import trust
from grader.models import TimingStats
from grader.jail.timing import checksum


def stats(median: float, clock: str = "cuda_event") -> TimingStats:
    return TimingStats(clock=clock, runs=100, median_ms=median, mean_ms=median, std_ms=0.0, min_ms=median,
                       max_ms=median, rel_sem=0.001, stopped_by="rel_err", l2_flushed=True)


# (event ms, trusted ms, device, kwargs) -> (runtime used, trusted?, flags)
DECISIONS = [
    pytest.param(1.0, 1.02, "cuda", {}, 1.0, True, [], id="honest: events agree with the grader's clock"),
    pytest.param(1.2, 1.0, "cuda", {}, 1.2, True, [], id="events slower than the clock: the slower figure"),
    pytest.param(0.96, 1.0, "cuda", {}, 0.96, True, [], id="inside the 5% tolerance"),
    pytest.param(0.8, 1.0, "cuda", {}, 1.0, False, ["timing_mismatch"], id="a timer scaled by 0.8 is caught"),
    pytest.param(0.002, 0.010, "cuda", {}, 0.010, False, ["timing_mismatch"], id="short kernel claiming 5x"),
    pytest.param(0.008, 0.010, "cuda", {}, 0.008, True, [], id="short kernel within the absolute floor"),
    pytest.param(0.8, 1.0, "cpu", {}, 1.0, False, ["timing_mismatch"], id="cpu: 20% below the clock"),
    pytest.param(0.92, 1.0, "cpu", {}, 0.92, True, [], id="cpu: within its 10% tolerance"),
    pytest.param(1.0, None, "cuda", {}, 1.0, False, [], id="no window: events, untrusted"),
    pytest.param(1.0, 1.0, "cuda", {"tampering": True}, 1.0, False, [], id="static tampering: untrusted"),
    pytest.param(1.0, 1.0, "cpu", {"spread": 0.25}, 1.0, False, ["noisy_timing"], id="cpu rounds spread 25%"),
    pytest.param(1.0, 1.0, "cpu", {"spread": 0.05}, 1.0, True, [], id="cpu rounds spread 5%"),
    pytest.param(1.0, 1.0, "cpu", {"spread": 0.10}, 1.0, True, [], id="cpu rounds spread exactly the margin"),
    pytest.param(0.8, 1.0, "cpu", {"spread": 0.25}, 1.0, False, ["timing_mismatch", "noisy_timing"],
                 id="cpu: a mismatch and noisy rounds are both flagged"),
    pytest.param(1.0, 1.0, "cuda", {"reduced_precision": True}, 1.0, False, [],
                 id="output in lower precision than asked: untrusted"),
    pytest.param(0.8, 1.0, "cuda", {"tampering": True}, 1.0, False, ["timing_mismatch"],
                 id="tampering and a mismatch: the clock's figure, untrusted"),
    pytest.param(0.8, 1.0, "cuda", {"resolution_ms": 0.5}, 0.8, True, ["coarse_own_clock"],
                 id="cuda: a coarse own clock widens the tolerance and says so"),
    pytest.param(0.8, 1.0, "cpu", {"resolution_ms": 0.5}, 1.0, False, ["coarse_own_clock"],
                 id="cpu: a gap within the clock's resolution takes its figure, untrusted, flagged coarse"),
    pytest.param(0.8, 1.0, "cpu", {"resolution_ms": 0.02}, 1.0, False, ["timing_mismatch"],
                 id="cpu: a gap beyond tolerance and resolution is a mismatch"),
    pytest.param(0.95, 1.0, "cpu", {"resolution_ms": 0.5}, 0.95, True, [],
                 id="cpu: within the tolerance, a coarse clock changes nothing"),
]


@pytest.mark.parametrize("event_ms, trusted_ms, device, kw, runtime, trusted, flags", DECISIONS)
def test_decide(event_ms, trusted_ms, device, kw, runtime, trusted, flags):
    clock = "cuda_event" if device == "cuda" else "host"
    base = 2.0 * (trusted_ms or event_ms)
    d = trust.decide(stats(event_ms, clock), stats(base, clock), trusted_ms, device, **kw)
    assert (d.runtime_ms, d.trusted, d.flags) == (runtime, trusted, flags)
    assert d.speedup == pytest.approx(base / runtime)
    assert d.basis


def test_the_own_clocks_resolution_widens_the_tolerance_and_is_flagged_when_coarse():
    # Seen on the H200: relu on 256 MB, windows of 2 calls; the slowest windows (a round trip held up) do not
    # count, only how far the reference's shortest is from its next shortest.
    res = trust.resolution([3.4166, 2.8315, 3.0884, 2.8843, 3.3438], 2)
    assert res == pytest.approx(2 * 0.0528 / 2)
    # An event figure 0.06 ms under such a clock's figure is within its resolution: kept, flagged coarse.
    d = trust.decide(stats(0.14), stats(0.15), 0.2, "cuda", resolution_ms=res)
    assert d.runtime_ms == 0.14 and d.trusted and d.flags == ["coarse_own_clock"]
    # Without the resolution the same figures are a mismatch.
    assert trust.decide(stats(0.14), stats(0.15), 0.2, "cuda").flags == ["timing_mismatch"]
    # A forger claiming a quarter of a 2.7 ms GEMM is caught whatever the (fine) resolution.
    d = trust.decide(stats(2.0), stats(2.7), 2.7, "cuda", resolution_ms=0.17)
    assert d.flags == ["timing_mismatch"] and d.runtime_ms == 2.7
    # On CPU a busy machine's noisy windows must not open the door to a forged clock (0.2 ms claimed 0.002):
    # within their resolution the grader's figure is still the one used, untrusted.
    d = trust.decide(stats(0.002, "host"), stats(0.01, "host"), 0.2, "cpu", resolution_ms=0.2)
    assert d.flags == ["coarse_own_clock"] and d.runtime_ms == 0.2 and not d.trusted
    assert "cannot tell the two apart" in d.basis


def test_paired_resolution_is_the_reference_windows_interquartile_range_per_call():
    # The candidate's windows never count; the reference's middle half spans 40-48 ms over 80 calls.
    assert trust.resolution([40.0, 41.0, 44.0, 47.0, 48.0, 60.0, 39.0], 80, paired=True) == pytest.approx(
        (48.0 - 40.0) / 80)
    assert trust.resolution([40.0], 80, paired=True) == 0.0


def test_excessive_speedup_is_flagged_but_left_to_the_roofline():
    d = trust.decide(stats(0.05), stats(2.0), 0.05, "cuda")
    assert d.flags == ["excessive_speedup"] and d.trusted
    assert trust.decide(stats(0.5), stats(10.0), 0.5, "cuda").flags == []              # exactly 20x: not above
    assert trust.decide(stats(0.5), stats(10.5), 0.5, "cuda").flags == ["excessive_speedup"]


def test_a_zero_runtime_is_an_infinite_speedup_flagged_excessive():
    d = trust.decide(stats(0.0), stats(1.0), None, "cuda")
    assert d.speedup == math.inf and d.flags == ["excessive_speedup"] and not d.trusted


def test_trusted_figure_is_reference_time_plus_window_difference_per_call():
    # Windows of 100 calls: the candidate's take 50 ms more than the reference's, so 0.5 ms a call more;
    # the shortest windows count, since a machine's hiccups only ever add time.
    assert trust.trusted_per_call(1.0, [150.0, 181.0, 149.0], [100.0, 130.5, 99.0], 100) == pytest.approx(1.5)
    assert trust.trusted_per_call(1.0, [10.0], [500.0], 100) == 0.0  # never negative


def test_paired_windows_take_the_median_difference_so_a_burst_on_one_side_moves_nothing():
    # CPU: pair i ran back to back. A burst covered every candidate window and the reference's first two
    # (all ~60 ms) and ended before the reference's third (40 ms): the shortest windows would read the honest
    # candidate as 20 ms a window slower, 0.29 ms a call on 70 calls; pair by pair it is as fast as the reference.
    cand, ref = [61.0, 60.0, 62.0], [60.5, 60.2, 40.0]
    assert trust.trusted_per_call(0.004, cand, ref, 70) == pytest.approx(0.004 + 20.0 / 70)
    assert trust.trusted_per_call(0.004, cand, ref, 70, paired=True) == pytest.approx(0.004 + 0.5 / 70)
    # A candidate that really is slower is slower in every pair.
    assert trust.trusted_per_call(0.004, [75.0, 74.0, 55.0], ref, 70, paired=True) == pytest.approx(0.004 + 14.5 / 70)
    with pytest.raises(ValueError):
        trust.trusted_per_call(0.004, cand, ref[:2], 70, paired=True)


@pytest.mark.parametrize("cand, ref, ok", [
    (100.0, 100.0, True),
    (100.0 + 1e-3, 100.0, True),       # within rtol * sum w|e| = 1e-4 * 100
    (100.5, 100.0, False),
    (math.nan, 100.0, False),
    (5.0, math.nan, True),             # NaN expected: left to the element-wise trials
])
def test_checksum_bound(cand, ref, ok):
    assert trust.checksum_matches(cand, ref, ref_abs=100.0, weights=50.0, atol=0.0, rtol=1e-4) is ok


def test_round_spread():
    assert trust.round_spread([1.0, 1.1, 0.9]) == pytest.approx(0.2)


def _sum(outs, seed=7, **kw):
    return checksum(outs, seed, **kw)


def test_checksum_sees_every_element_of_every_call():
    g = torch.Generator().manual_seed(0)
    calls = [[torch.randn(3000, generator=g), torch.randn(5, 7, generator=g)] for _ in range(4)]
    base = _sum(calls)
    assert [n for _, n, _ in base] == [12000, 140]
    assert _sum(calls) == base                           # same weights from the same seed
    assert _sum(calls, seed=8)[0][0] != base[0][0]       # other weights from another seed
    ref_abs = _sum(calls, weigh_abs=True)[0][0]
    w = base[0][2]
    # A call that was skipped and handed back another call's result, or one element far off: caught. (A
    # single element off by little passes: the sum bounds what allclose allows over all elements, and the
    # correctness trials compare element by element.)
    stale = [call if i != 2 else calls[1] for i, call in enumerate(calls)]
    off = [[t.clone() for t in call] for call in calls]
    off[3][0][17] += 50.0
    for bad in (stale, off):
        assert not trust.checksum_matches(_sum(bad)[0][0], base[0][0], ref_abs, w, 1e-4, 1e-4)
    honest = [[t + 1e-6 * t.abs() for t in call] for call in calls]
    assert trust.checksum_matches(_sum(honest)[0][0], base[0][0], ref_abs, w, 1e-4, 1e-4)


def test_checksum_weights_sum_matches_what_was_applied():
    ones = [[torch.ones(10_000)]]
    s, n, w = _sum(ones)[0]
    assert n == 10_000 and s == pytest.approx(w, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, torch.bool, torch.complex64])
def test_checksum_takes_every_output_dtype(dtype):
    t = (torch.arange(100) % 3).to(dtype)
    (s, n, w), = _sum([[t]])
    assert n == (200 if dtype.is_complex else 100) and math.isfinite(s) and w > 0
