"""Pieces of the trusted side tested directly: comparison, the channel, tensor files, the timer."""

import socket
import struct

import pytest
import torch

from grader.judge.compare import compare, tolerance
from grader.models import ProblemMeta
from grader.protocol.wire import Channel, ChannelTimeout, ProtocolError, read_tensor, write_tensor
from grader.jail.timing import bench


def test_compare_accepts_within_tolerance_and_reports_worst():
    ref = torch.randn(64, 64)
    ok = compare(ref + 1e-6, ref, 1e-4, 1e-4)
    assert ok.ok and ok.max_abs_err < 2e-6
    bad = ref.clone()
    bad[10, 20] += 0.5
    res = compare(bad, ref, 1e-4, 1e-4)
    assert not res.ok and res.worst_index == [10, 20]
    assert res.max_abs_err == pytest.approx(0.5, rel=1e-3)


def test_compare_nan_only_where_reference_has_nan():
    ref = torch.tensor([1.0, float("nan"), float("inf")])
    assert compare(ref.clone(), ref, 0, 0).ok
    got = torch.tensor([float("nan"), float("nan"), float("inf")])
    res = compare(got, ref, 1e-4, 1e-4)
    assert not res.ok and "NaN/Inf" in res.reason and res.worst_index == [0]


def test_compare_exact_for_integers_and_strict_dtype():
    i = torch.arange(10)
    assert compare(i.clone(), i, 0, 0).ok
    assert not compare(i + 1, i, 0, 0).ok
    assert "dtype" in compare(i.float(), i, 0, 0).reason


def test_compare_chunks_large_tensors(monkeypatch):
    import grader.judge.compare as c
    monkeypatch.setattr(c, "CHUNK", 1000)
    ref = torch.randn(10_000)
    got = ref.clone()
    got[7777] = 5.0
    assert compare(got, ref, 1e-4, 1e-4).worst_index == [7777]


def test_tolerance_by_dtype_and_override():
    assert tolerance(torch.float32, None) == (1e-4, 1e-4)
    assert tolerance(torch.float16, None)[0] > tolerance(torch.float32, None)[0]
    meta = ProblemMeta(name="x", level=1, atol=1e-2)
    assert tolerance(torch.float32, meta) == (1e-2, 1e-4)


def test_tensor_files_round_trip_and_refuse_lies(tmp_path):
    for t in (torch.randn(3, 5), torch.randn(4).bfloat16(), torch.tensor([True, False]), torch.randn(2, 3).t(),
              torch.zeros(0, 3)):
        assert torch.equal(read_tensor(tmp_path, write_tensor(tmp_path, "t", t)), t.contiguous())
    desc = write_tensor(tmp_path, "t", torch.randn(8)).model_dump()
    with pytest.raises(ProtocolError, match="holds 32 bytes"):
        read_tensor(tmp_path, {**desc, "shape": [9]})
    with pytest.raises(ProtocolError, match="bad tensor description"):
        read_tensor(tmp_path, {**desc, "files": ["../etc/passwd"]})
    with pytest.raises(ProtocolError, match="bad tensor description"):
        read_tensor(tmp_path, {**desc, "dtype": "object"})
    (tmp_path / "link").symlink_to(tmp_path / "t.0")
    with pytest.raises(ProtocolError, match="cannot open"):
        read_tensor(tmp_path, {**desc, "files": ["link"]})


def test_channel_frames_and_garbage():
    a, b = socket.socketpair()
    ca, cb = Channel(a), Channel(b)
    ca.send({"x": 1})
    assert cb.recv(timeout=1) == {"x": 1}
    with pytest.raises(ChannelTimeout):
        cb.recv(timeout=0.05)
    a.sendall(struct.pack(">I", 5) + b"nope!")
    with pytest.raises(ProtocolError, match="unreadable"):
        cb.recv(timeout=1)
    a.sendall(struct.pack(">I", 1 << 30))
    with pytest.raises(ProtocolError, match="over the"):
        cb.recv(timeout=1)


def test_bench_host_clock_stops_and_returns_last_output():
    sets = [(torch.full((4,), float(i)),) for i in range(3)]
    stats, out, idx = bench(lambda x: x * 2, sets, device="cpu", max_time_s=0.2, min_runs=5)
    assert stats["clock"] == "host" and stats["runs"] >= 5
    assert stats["stopped_by"] in ("rel_err", "time_cap", "max_runs")
    assert torch.equal(out, sets[idx][0] * 2)
    assert stats["min_ms"] <= stats["median_ms"] <= stats["max_ms"]


def test_a_kernels_cuda_error_is_not_taken_for_a_build_error():
    # A kernel's illegal memory access at the first call is a runtime error; it reads "error:" like a compiler.
    from grader.jail.runner import _is_build_error

    assert _is_build_error(RuntimeError("Error building extension 'k': ninja: build stopped"))
    assert _is_build_error(RuntimeError("kernel.cu(5): error: identifier \"zero\" is undefined"))
    illegal = "CUDA error: an illegal memory access was encountered\nCompile with `TORCH_USE_CUDA_DSA`"
    assert not _is_build_error(RuntimeError(illegal))
    assert not _is_build_error(torch.AcceleratorError("an error: raised by the CUDA runtime"))
