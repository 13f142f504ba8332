"""How long the TUI's problem preview waits for input shapes: one child per preview (before) against the
long-lived describer of tui/describer.py (now).

    python bench/tui_preview.py            # the six CPU-track problems
    python bench/tui_preview.py -n 10      # the first ten problems of the catalog

"all at once" starts one child per problem together, as holding Down in the old browser did (a cancelled
Textual thread worker keeps its thread and its child); the figure is when the last one, the problem under
the cursor, answers. Prints a table; no GPU needed.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui.catalog import load_catalog  # noqa: E402
from tui.describer import Describer  # noqa: E402

# The child that every preview started before (tui/catalog.py until this change).
OLD_CHILD = ("import json, sys\nfrom pathlib import Path\nfrom grader.judge.problems import describe_inputs\n"
             "print(json.dumps(describe_inputs(Path(sys.argv[1]))))\n")


def _old_child(path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen([sys.executable, "-c", OLD_CHILD, str(path)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=0, help="first N problems of the catalog (default: the CPU track)")
    args = ap.parse_args()
    catalog = load_catalog()
    problems = catalog[:args.n] if args.n else [p for p in catalog if p.level == 0]
    paths = [p.path for p in problems]
    rows = []

    t = time.perf_counter()
    _old_child(paths[0]).wait()
    rows.append(("one child per preview", "one problem", time.perf_counter() - t))
    t = time.perf_counter()
    for proc in [_old_child(p) for p in paths]:
        proc.wait()
    rows.append(("one child per preview", f"{len(paths)} at once (holding Down), last answer", time.perf_counter() - t))

    d = Describer()
    try:
        t = time.perf_counter()
        d.describe(paths[0])
        rows.append(("describer", "first question (starts it, imports torch)", time.perf_counter() - t))
        t = time.perf_counter()
        for p in paths[1:]:
            d.describe(p)
        rows.append(("describer", f"next {len(paths) - 1} problems, each", (time.perf_counter() - t) / max(len(paths) - 1, 1)))
        t = time.perf_counter()
        for p in paths:
            d.describe(p)
        rows.append(("describer", f"{len(paths)} cached answers, each", (time.perf_counter() - t) / len(paths)))
    finally:
        d.close()

    load = os.getloadavg()
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · load {load[0]:.1f} · python {platform.python_version()}")
    print(f"command: python bench/tui_preview.py{' -n ' + str(args.n) if args.n else ''}\n")
    print(f"| {'how':<22} | {'what':<44} | {'seconds':>8} |")
    print(f"| {'-' * 22} | {'-' * 44} | {'-' * 8}:|")
    for how, what, s in rows:
        print(f"| {how:<22} | {what:<44} | {s:8.3f} |")


if __name__ == "__main__":
    main()
