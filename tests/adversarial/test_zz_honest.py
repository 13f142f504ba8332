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
    # A busy machine may leave the CPU rounds too spread to state a speedup (noisy_timing, honestly untrusted);
    # nothing else may be flagged, and without that flag the speedup must be trusted.
    assert not set(report["flags"]) - {"noisy_timing"}, explain(report)
    assert report["speedup_trusted"] is ("noisy_timing" not in report["flags"]), explain(report)
    assert report["sandbox"] == "local"
