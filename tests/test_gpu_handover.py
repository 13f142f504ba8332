"""Outputs of CUDA gradings stay on the GPU (grader/protocol/cuda_share.py): run on the H200.

    python -m pytest -q -s tests/test_gpu_handover.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kgtest import ROOT, report_of, run_grader

pytestmark = pytest.mark.gpu

KERNELBENCH = Path(os.environ.get("KG_KERNELBENCH_DIR", ROOT.parent / "shared" / "kernelbench"))
EXPORT = """
import socket, sys, torch
from grader.protocol import cuda_share, messages as m
from grader.protocol.wire import Channel
chan = Channel(socket.socket(fileno=int(sys.argv[1])))
x = torch.arange(3 << 20, dtype=torch.float32, device="cuda").reshape(3, -1)
exporter = cuda_share.Exporter(0)
fd = exporter.export(x)
chan.send(m.Outputs(outputs=[m.CudaTensor(dtype="float32", shape=list(x.shape))]), [fd])
chan.recv()  # the grader has copied it: only now may the export go
exporter.release()
x.fill_(-1)  # too late to change what the grader holds
torch.cuda.synchronize()
chan.send({"ok": True})
"""


def test_an_export_from_another_process_arrives_whole_and_stays_the_graders():
    import torch

    from grader.protocol import cuda_share
    from grader.protocol import messages as m
    from grader.protocol.wire import Channel

    assert cuda_share.unavailable() is None, cuda_share.unavailable()
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-c", EXPORT, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    theirs.close()
    chan = Channel(ours)
    reply = m.Outputs.model_validate(chan.recv(timeout=120))
    (fd,) = chan.take_fds(1)
    try:
        raw = cuda_share.import_copy(fd, (3 << 20) * 4)
    finally:
        os.close(fd)
    chan.send({"cmd": "done"})
    assert chan.recv(timeout=60) == {"ok": True}
    assert proc.wait(timeout=60) == 0
    got = raw.view(torch.float32).reshape(reply.outputs[0].shape)
    assert got.is_cuda and torch.equal(got, torch.arange(3 << 20, dtype=torch.float32, device="cuda").reshape(3, -1))


def test_import_refuses_a_pipe_and_a_short_handle_without_leaking():
    import torch

    from grader.protocol import cuda_share

    rd, wr = os.pipe()
    with pytest.raises(cuda_share.CudaError, match="pipe"):
        cuda_share.import_copy(rd, 1024)
    os.close(rd)
    os.close(wr)
    exporter = cuda_share.Exporter(0)
    fd = exporter.export(torch.ones(16, device="cuda"))
    free0 = torch.cuda.mem_get_info()[0]
    with pytest.raises(cuda_share.CudaError, match="cuMem"):
        cuda_share.import_copy(fd, 64 << 20)  # claims 64 MiB of a one-granule allocation
    os.close(fd)
    exporter.release()
    assert torch.cuda.mem_get_info()[0] >= free0 - (4 << 20)


def test_cuda_grading_hands_over_on_the_gpu_and_files_remain_the_fallback():
    for env, expected in (({}, "cuda"), ({"KG_HANDOVER": "files"}, "files")):
        proc = run_grader("check", str(ROOT / "solutions/level1/relu.py"), "--problem", "relu", "--device", "cuda",
                          "--json", "--sandbox", "local", "--no-compile-baseline", env=env)
        report = report_of(proc.stdout, proc.stderr)
        assert report["status"] == "passed", report["message"] + report["worker_log"][-2000:]
        assert (report["versions"]["handover"], report["versions"]["candidate_handover"]) == (expected, expected)


@pytest.mark.skipif(not (KERNELBENCH / "level1" / "19_ReLU.py").is_file(), reason="needs ../shared/kernelbench or KG_KERNELBENCH_DIR")
def test_kernelbench_relu_with_a_6_gb_output_passes_jailed():
    from sandbox.local import isolation

    proc = run_grader("check", str(ROOT / "solutions/level1/relu.py"), "--problem",
                      str(KERNELBENCH / "level1" / "19_ReLU.py"), "--device", "cuda", "--json", "--sandbox", "local",
                      timeout=900)
    report = report_of(proc.stdout, proc.stderr)
    print(f"\n19_ReLU ({isolation()}): {report['status']} {report['message']} in {report['duration_s']}s")
    assert report["status"] == "passed", report["message"] + report["worker_log"][-2000:]
    assert report["versions"]["handover"] == "cuda" and report["speedup_trusted"], report["flags"]
