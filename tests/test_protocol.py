"""The engine <-> worker protocol: typed messages, descriptors on the channel, tensor files in parts."""

from __future__ import annotations

import os
import socket

import pytest
import torch
from pydantic import ValidationError

from grader.protocol import messages as m
from grader.protocol import wire
from grader.protocol.wire import Channel, ProtocolError, read_tensor, write_tensor


def test_every_command_round_trips_through_json_and_the_union():
    commands = [m.Load(device="cuda", role="candidate", init_seed=7, problem="/p.py", solution="/s.py",
                       handover="cuda"),
                m.Run(seed=1, tag="r1", poison=[([2, 3], "float32")]),
                m.Time(seeds=[1, 2, 3], variant="compile", tag="tcompile", max_time_s=1.5),
                m.Window(), m.Go(seeds=[5, 6]), m.Checksum(seed=3, abs=True),
                m.Float64(seed=4, bits=10, budget_bytes=1 << 30, tag="f64-10"), m.Profile(seed=9), m.Exit()]
    a, b = socket.socketpair()
    ca, cb = Channel(a), Channel(b)
    for cmd in commands:
        ca.send(cmd)
        assert m.COMMAND.validate_python(cb.recv(timeout=1)) == cmd


@pytest.mark.parametrize("raw", [{"cmd": "run", "seed": -1, "tag": "r"}, {"cmd": "run", "seed": 1, "tag": "../x"},
                                 {"cmd": "rm", "path": "/"}, {"cmd": "go", "extra": 1},
                                 {"cmd": "guard", "seeds": [], "runs": 1, "tag": "g"}])
def test_malformed_commands_are_refused(raw):
    with pytest.raises(ValidationError):
        m.COMMAND.validate_python(raw)


def test_replies_refuse_lies_about_outputs():
    ok = {"ok": True, "outputs": [{"kind": "cuda", "dtype": "float32", "shape": [2, 3]}]}
    assert isinstance(m.Outputs.model_validate(ok).outputs[0], m.CudaTensor)
    for bad in ({"ok": True, "outputs": []},
                {"ok": True, "outputs": [{"kind": "ipc", "dtype": "float32", "shape": [1]}]},
                {"ok": True, "outputs": [{"kind": "file", "dtype": "float32", "shape": [1], "files": ["/etc/x"]}]},
                {"ok": True, "outputs": [{"kind": "cuda", "dtype": "object", "shape": [1]}]},
                {"ok": True, "outputs": [{"kind": "cuda", "dtype": "float32", "shape": [-1]}]},
                {"ok": True, "outputs": [{"kind": "cuda", "dtype": "float32", "shape": [1]}] * (m.MAX_OUTPUTS + 1)}):
        with pytest.raises(ValidationError):
            m.Outputs.model_validate(bad)


def test_descriptors_travel_with_their_frame_and_are_counted():
    a, b = socket.socketpair()
    ca, cb = Channel(a), Channel(b)
    rd, wr = os.pipe()
    try:
        ca.send({"ok": True}, [rd, wr])
        assert cb.recv(timeout=1) == {"ok": True}
        got = cb.take_fds(2)
        assert len(got) == 2 and all(os.path.sameopenfile(x, y) for x, y in zip(got, (rd, wr)))
        for fd in got:
            os.close(fd)
        ca.send({"ok": True}, [rd])
        cb.recv(timeout=1)
        with pytest.raises(ProtocolError, match="1 file descriptors came with a reply that declared 0"):
            cb.take_fds(0)
        assert cb.take_fds(0) == []  # the stray one was closed, not kept for the next reply
    finally:
        os.close(rd)
        os.close(wr)


def test_a_flood_of_descriptors_is_a_protocol_error_and_leaks_nothing():
    a, b = socket.socketpair()
    ca, cb = Channel(a), Channel(b)
    rd, wr = os.pipe()
    before = len(os.listdir("/proc/self/fd"))
    try:
        ca.send({"ok": True}, [rd] * (wire.MAX_FDS + 10))
        with pytest.raises(ProtocolError, match="file descriptors"):
            cb.recv(timeout=1)
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        os.close(rd)
        os.close(wr)


def test_tensors_over_a_part_travel_in_parts_and_every_part_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(wire, "PART_BYTES", 16)
    t = torch.arange(10, dtype=torch.float32)  # 40 bytes: parts of 16, 16, 8
    desc = write_tensor(tmp_path, "out", t)
    assert desc.files == ["out.0", "out.1", "out.2"]
    assert [os.path.getsize(tmp_path / f) for f in desc.files] == [16, 16, 8]
    assert torch.equal(read_tensor(tmp_path, desc), t)
    raw = desc.model_dump()
    with pytest.raises(ProtocolError, match="3 distinct files, not 2"):
        read_tensor(tmp_path, {**raw, "files": ["out.0", "out.1"]})
    with pytest.raises(ProtocolError, match="3 distinct files"):
        read_tensor(tmp_path, {**raw, "files": ["out.0", "out.0", "out.2"]})
    with pytest.raises(ProtocolError, match="out.2 holds 8 bytes, expected 16"):
        read_tensor(tmp_path, {**raw, "files": ["out.0", "out.2", "out.1"]})
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ProtocolError, match="not a regular file"):
        read_tensor(tmp_path, {**raw, "files": ["out.0", "out.1", "fifo"]})


def test_outputs_fall_back_to_files_where_cuda_cannot_share_memory(monkeypatch):
    from grader.protocol import cuda_share
    from grader.judge import engine

    monkeypatch.delenv("KG_HANDOVER", raising=False)
    assert engine.handover_for("cpu") == "files"
    reason = cuda_share.unavailable()  # on this machine: None only with a driver that shares VMM memory
    assert engine.handover_for("cuda") == ("cuda" if reason is None else "files")
    assert reason is None or (reason and "\n" not in reason)
    monkeypatch.setenv("KG_HANDOVER", "files")
    assert engine.handover_for("cuda") == "files"
