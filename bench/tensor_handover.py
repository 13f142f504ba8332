"""How fast outputs travel from a worker to the trusted grader and get compared.

Measures, per tensor size: the worker's write of raw bytes into the exchange folder (from the
device it lives on), the grader's checked read, and the comparison on CPU and, where there is
one, on the GPU. Prints a table; run: python bench/tensor_handover.py [--sizes-mb 64,1024,4096]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from grader.compare import compare
from grader.protocol import read_tensor, write_tensor


def timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes-mb", default="64,1024")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    root = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    rows = []
    try:
        for mb in (int(x) for x in args.sizes_mb.split(",")):
            n = (mb << 20) // 4
            out = torch.randn(n, device=device)
            desc, t_write = timed(lambda: write_tensor(root, "out.bin", out))
            got, t_read = timed(lambda: read_tensor(root, desc))
            ref = got + 1e-6
            t_cpu = timed(lambda: compare(got, ref, 1e-4, 1e-4))[1]
            t_gpu = timed(lambda: compare(got, ref, 1e-4, 1e-4, device="cuda"))[1] if device == "cuda" else None
            rows.append((mb, t_write, t_read, t_cpu, t_gpu))
            (root / "out.bin").unlink()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}; exchange folder on "
          f"{'/dev/shm' if str(root).startswith('/dev/shm') else 'disk'}")
    print(f"{'MB':>6} {'write s':>8} {'GB/s':>6} {'read s':>8} {'GB/s':>6} {'cmp cpu s':>10} {'cmp gpu s':>10}")
    for mb, w, r, c, g in rows:
        gb = mb / 1024
        gpu = f"{g:10.3f}" if g is not None else f"{'—':>10}"
        print(f"{mb:6d} {w:8.3f} {gb / w:6.2f} {r:8.3f} {gb / r:6.2f} {c:10.3f} {gpu}")


if __name__ == "__main__":
    main()
