"""How fast outputs travel from a worker to the trusted grader and get compared.

Per tensor size, two ways:
- files (CPU gradings, and the fallback): the worker's write of raw bytes into the exchange folder (from
  the device it lives on), the grader's checked read, and the comparison on the CPU and, where there is
  one, on the GPU;
- on the GPU (CUDA gradings): a second process (the "worker") holds the output on the GPU; from the
  grader's request to a verdict, the worker copies it into an exportable allocation and sends the handle
  over a unix socket (grader/protocol/cuda_share.py, SCM_RIGHTS), the grader checks the descriptor, imports, maps and
  copies it into its own memory, then compares it with its own expected tensor on the GPU.

Prints a table; run: python bench/tensor_handover.py [--sizes-mb 64,1024,4096]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.protocol import cuda_share  # noqa: E402
from grader.protocol import messages as m  # noqa: E402
from grader.judge.compare import compare  # noqa: E402
from grader.protocol.wire import Channel, read_tensor, write_tensor  # noqa: E402


def timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def made(mb: int, device: str) -> torch.Tensor:
    """The same values on both sides of the GPU hand-over, from one seed."""
    g = torch.Generator(device=device).manual_seed(mb)
    return torch.randn((mb << 20) // 4, device=device, generator=g)


def child(fd: int) -> None:
    """The worker's side of the GPU hand-over: make the output, then export it on request."""
    chan = Channel(socket.socket(fileno=fd))
    exporter = cuda_share.Exporter(0)
    out = None
    while True:
        msg = chan.recv()
        exporter.release()  # as the worker does: the grader has copied the last export
        if msg["cmd"] == "make":
            out = made(msg["mb"], "cuda")
            torch.cuda.synchronize()
            chan.send(m.Ready())
        elif msg["cmd"] == "go":
            fds = [exporter.export(out)]
            chan.send(m.Outputs(outputs=[m.CudaTensor(dtype="float32", shape=list(out.shape))]), fds)
            for f in fds:
                os.close(f)
        else:
            return


def gpu_rows(sizes: list[int]) -> list[tuple[float, float]]:
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    chan = Channel(ours)
    rows = []
    try:
        for mb in sizes:
            expected = made(mb, "cuda") + 1e-6
            chan.send({"cmd": "make", "mb": mb})
            m.Ready.model_validate(chan.recv(timeout=600))
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            chan.send({"cmd": "go"})
            reply = m.Outputs.model_validate(chan.recv(timeout=600))
            (fd,) = chan.take_fds(1)
            try:
                desc = reply.outputs[0]
                raw = cuda_share.import_copy(fd, (mb << 20))
                got = raw.view(getattr(torch, desc.dtype)).reshape(desc.shape)
            finally:
                os.close(fd)
            torch.cuda.synchronize()
            t1 = time.perf_counter()
            check = compare(got, expected, 1e-4, 1e-4, device="cuda")
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            assert check.ok, check.reason
            rows.append((t1 - t0, t2 - t1))
            del expected, got, raw
        chan.send({"cmd": "exit"})
    finally:
        proc.wait(timeout=60)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes-mb", default="64,1024")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        return child(args.child)
    sizes = [int(x) for x in args.sizes_mb.split(",")]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    root = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    rows = []
    try:
        for mb in sizes:
            n = (mb << 20) // 4
            out = torch.randn(n, device=device)
            desc, t_write = timed(lambda: write_tensor(root, "out", out))
            got, t_read = timed(lambda: read_tensor(root, desc))
            ref = got + 1e-6
            t_cpu = timed(lambda: compare(got, ref, 1e-4, 1e-4))[1]
            t_gpu = timed(lambda: compare(got, ref, 1e-4, 1e-4, device="cuda"))[1] if device == "cuda" else None
            rows.append((mb, t_write, t_read, t_cpu, t_gpu))
            for f in desc.files:
                (root / f).unlink()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    why_not = cuda_share.unavailable() if device == "cuda" else "no GPU"
    gpu = gpu_rows(sizes) if why_not is None else [None] * len(sizes)
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}; exchange folder on "
          f"{'/dev/shm' if str(root).startswith('/dev/shm') else 'disk'}; GPU hand-over: {why_not or 'VMM handles'}")
    print(f"{'MB':>6} | files: {'write s':>8} {'GB/s':>6} {'read s':>8} {'GB/s':>6} {'cmp cpu s':>10} {'cmp gpu s':>10}"
          f" | GPU: {'handover s':>10} {'cmp s':>7} {'total s':>8}")
    for (mb, w, r, c, g), hand in zip(rows, gpu):
        gb = mb / 1024
        gcol = f"{g:10.3f}" if g is not None else f"{'—':>10}"
        hcol = f"{hand[0]:10.3f} {hand[1]:7.3f} {sum(hand):8.3f}" if hand else f"{'—':>10} {'—':>7} {'—':>8}"
        print(f"{mb:6d} |        {w:8.3f} {gb / w:6.2f} {r:8.3f} {gb / r:6.2f} {c:10.3f} {gcol} |      {hcol}")


if __name__ == "__main__":
    main()
