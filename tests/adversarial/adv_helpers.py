"""Shared pieces of the adversarial suite: run the real CLI on a hostile solution, read its report.

Every grading here runs `python -m grader check` as a subprocess, the way a user (or an attacker)
meets it, with `--sandbox local` unless a test says otherwise: that is the backend this suite
hardens; the Docker backend has its own contract tests (tests/sandbox).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SOLUTIONS = HERE / "solutions"
PROBLEMS = HERE / "problems"
ADD = FIXTURES / "add_problem.py"          # a + b on 4096 floats, CPU
MATMUL = PROBLEMS / "matmul_cpu.py"         # 1024x1024 matmul: heavy enough that skipped work shows

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kgtest import processes_with, report_of, run_grader, wait_gone  # noqa: E402,F401  (re-exported to the tests)

FAST = ("--no-compile-baseline", "--max-timing-s", "0.5", "--trials", "3")


def grade(solution: Path | str, *args: str, problem: Path | str = ADD, sandbox: str = "local",
          device: str = "cpu", fast: bool = True, env: dict[str, str] | None = None,
          timeout: float = 900) -> tuple[subprocess.CompletedProcess, dict]:
    """Grade `solution` with the CLI; returns the finished process and the parsed report (stdout's last line)."""
    proc = run_grader("check", str(solution), "--problem", str(problem), "--device", device, "--json",
                      "--sandbox", sandbox, *(FAST if fast else ()), *args, timeout=timeout, env=env)
    return proc, report_of(proc.stdout, proc.stderr)


def render(name: str, folder: Path, **subs: object) -> Path:
    """Copy solutions/NAME into `folder`, filling {{KEY}} placeholders (ports, paths, markers)."""
    text = (SOLUTIONS / name).read_text()
    for key, value in subs.items():
        text = text.replace("{{" + key + "}}", str(value))
    assert "{{" not in text, f"unfilled placeholder in {name}"
    out = folder / name
    out.write_text(text)
    return out


def overruled_by_the_graders_clock(report: dict) -> bool:
    """The speedup rests on the grader's own figure, untrusted: flagged `timing_mismatch`, or, where a busy
    CPU's windows could not resolve the gap, `coarse_own_clock` (grader/judge/trust.py `decide`, rule 1)."""
    return (bool({"timing_mismatch", "coarse_own_clock"} & set(report["flags"]))
            and report["runtime_ms"] == report["trusted_runtime_ms"] and report["speedup_trusted"] is False)


def explain(report: dict) -> str:
    """What to print when an assertion on a report fails."""
    return (f"status={report['status']} flags={report['flags']} message={report['message']!r}\n"
            f"worker log tail:\n{report.get('worker_log', '')[-2000:]}")
