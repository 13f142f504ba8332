"""How long working out a problem's shapes and sizes takes (the TUI preview, `problems show`, and the
grader's up-front sizing all use grader.judge.sizing.measure). Prints a markdown table.

    python bench/preview_sizing.py [PROBLEM.py ...]

Columns: first measure in this process (torch already imported), a second one (memory), and one from
the disk cache in a fresh process (no torch import); plus torch's import time once, which the old
preview paid in a child process for every problem. The first meta-device op of a process also imports
torch's Python meta kernels (torch._refs, torch._decomp: ~800 modules), so the first problem's "first"
column carries that once. KernelBench files come from $KERNELBENCH_DIR (default /work/shared/kernelbench).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KB = Path(os.environ.get("KERNELBENCH_DIR", "/work/shared/kernelbench")) / "level1"
DEFAULT = [ROOT / "problems/cpu/cpu_softmax.py", ROOT / "problems/level1/relu.py",
           ROOT / "problems/level3/resnet_block.py", KB / "19_ReLU.py", KB / "47_Sum_reduction_over_a_dimension.py",
           KB / "54_conv_standard_3D__square_input__square_kernel.py"]
HIT = ("import sys, time; t = time.perf_counter(); from grader.judge import sizing; "
       "sizing.measure(sys.argv[1]); print((time.perf_counter() - t) * 1e3, 'torch' in sys.modules)")


def main() -> None:
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="kg-sizing-bench-")
    t = time.perf_counter()
    import torch  # noqa: F401
    torch_ms = (time.perf_counter() - t) * 1e3
    from grader.judge import sizing

    files = [Path(a) for a in sys.argv[1:]] or [f for f in DEFAULT if f.is_file()]
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"torch {torch.__version__}; torch import {torch_ms:.0f} ms\n")
    print("| problem | method | inputs | outputs | first (ms) | again (ms) | disk cache, fresh process (ms) "
          "| torch imported |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for f in files:
        t = time.perf_counter()
        size = sizing.measure(f)
        first = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        sizing.measure(f)
        again = (time.perf_counter() - t) * 1e3
        r = subprocess.run([sys.executable, "-c", HIT, str(f)], capture_output=True, text=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        hit_ms, imported = r.stdout.split()
        print(f"| {f.name} | {size.method} | {sizing.gb(size.input_bytes or 0)} | {sizing.gb(size.output_bytes or 0)} "
              f"| {first:.0f} | {again:.2f} | {float(hit_ms):.0f} | {imported} |")


if __name__ == "__main__":
    main()
