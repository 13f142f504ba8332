"""Last in the suite: after every attack above, an honest solution still passes, trusted and unflagged.

It also records the figures: compare them with the same solution graded before the hardening
(docs/security.md, "Cost to honest solutions").
"""

from __future__ import annotations

from adv_helpers import FIXTURES, explain, grade


def test_honest_solution_still_passes_with_a_trusted_speedup():
    proc, report = grade(FIXTURES / "add_pass.py", "--max-timing-s", "1", "--no-compile-baseline", fast=False)
    print(f"\nadd_pass (cpu, {report['sandbox']}): {report['status']} {report['message']} flags={report['flags']} "
          f"runtime={report['runtime_ms']:.5f} ms baseline={report['baseline_ms']:.5f} ms "
          f"duration={report['duration_s']} s")
    assert report["status"] == "passed", explain(report)
    assert proc.returncode == 0
    # A busy machine may leave the CPU rounds too spread to state a speedup (noisy_timing), or its windows too
    # uneven to tell this 4 us call from a slower one (coarse_own_clock): honestly untrusted, either way. Nothing
    # else may be flagged (timing_mismatch would say its timing lied), and without those the speedup is trusted.
    busy = {"noisy_timing", "coarse_own_clock"}
    assert not set(report["flags"]) - busy, explain(report)
    assert report["speedup_trusted"] is not bool(busy & set(report["flags"])), explain(report)
    assert report["sandbox"] == "local"
