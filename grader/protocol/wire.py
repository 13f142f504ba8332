"""The private channel between the trusted grader and a worker.

Frames are a 4-byte length and a JSON object; nothing is ever unpickled, so a
hostile worker can send wrong data but never code. What a frame may say is
defined by the models of grader/protocol/messages.py. A frame may carry file
descriptors (SCM_RIGHTS): a CUDA grading's outputs come as VMM handles that
grader/protocol/cuda_share.py imports and copies on the GPU. Otherwise tensors travel as
raw bytes in files of the sandbox's exchange folder (shared memory where the
machine has it), split into parts of at most PART_BYTES so that no file meets
the worker's file-size limit; a frame carries only their dtype, shape and file
names, and the reader checks all of them against the files before it trusts a
byte.
"""

from __future__ import annotations

import array
import json
import os
import socket
import stat
import struct
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .messages import MAX_OUTPUTS, FileTensor

MAX_FRAME = 16 << 20
PART_BYTES = 1 << 30          # largest tensor file: well under the sandbox's per-file limit (Limits.file_bytes)
MAX_FDS = MAX_OUTPUTS         # descriptors the channel holds at once; more is a protocol violation
_ANCILLARY = socket.CMSG_SPACE(MAX_FDS * array.array("i").itemsize)


class ProtocolError(RuntimeError):
    """The peer broke the protocol: garbage on the channel, a bad tensor file, a hang-up."""


class ChannelTimeout(ProtocolError):
    pass


class Channel:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buf = bytearray()
        self._fds: list[int] = []   # received and not yet taken; closed by take_fds/close_fds

    def send(self, obj: dict[str, Any] | BaseModel, fds: list[int] | tuple[int, ...] = ()) -> None:
        if isinstance(obj, BaseModel):
            obj = obj.model_dump(mode="json")
        data = json.dumps(obj, allow_nan=True).encode()
        frame = struct.pack(">I", len(data)) + data
        # Blocking: recv() leaves its short poll timeout on the socket, and a frame larger than the socket's
        # buffer must wait for the peer to read, however loaded the machine (a dead peer raises EPIPE).
        self.sock.settimeout(None)
        if fds:  # the descriptors ride on the frame's first bytes; the rest follows as usual
            sent = self.sock.sendmsg([frame], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            frame = frame[sent:]
        if frame:
            self.sock.sendall(frame)

    def take_fds(self, count: int) -> list[int]:
        """Exactly `count` descriptors received since the last take; anything else is a protocol violation.

        The caller owns (and must close) what it gets; on a mismatch every one is closed here."""
        if len(self._fds) != count:
            got = len(self._fds)
            self.close_fds()
            raise ProtocolError(f"{got} file descriptors came with a reply that declared {count}")
        fds, self._fds = self._fds, []
        return fds

    def close_fds(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)

    def _recv_some(self) -> bytes:
        chunk, ancdata, flags, _ = self.sock.recvmsg(1 << 20, _ANCILLARY, socket.MSG_CMSG_CLOEXEC)
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                self._fds.extend(fds)
        if flags & socket.MSG_CTRUNC or len(self._fds) > MAX_FDS:
            self.close_fds()
            raise ProtocolError(f"more than {MAX_FDS} file descriptors sent at once")
        return chunk

    def _read(self, n: int, deadline: float | None) -> bytes:
        while len(self._buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChannelTimeout("no answer in time")
                self.sock.settimeout(min(left, 0.25))
            else:
                self.sock.settimeout(None)
            try:
                chunk = self._recv_some()
            except TimeoutError:
                continue
            except OSError as e:
                raise ProtocolError(f"channel broken: {e}") from e
            if not chunk:
                raise ProtocolError("worker closed the channel")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def recv(self, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        (n,) = struct.unpack(">I", self._read(4, deadline))
        if n > MAX_FRAME:
            raise ProtocolError(f"frame of {n} bytes is over the {MAX_FRAME} limit")
        try:
            obj = json.loads(self._read(n, deadline))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ProtocolError(f"unreadable frame: {e}") from e
        if not isinstance(obj, dict):
            raise ProtocolError("frame is not an object")
        return obj


def write_tensor(folder: Path, name: str, tensor) -> FileTensor:
    """Worker side: dump a tensor's bytes to folder/name.0, name.1, ... (PART_BYTES each) and describe it."""
    import torch

    t = tensor.detach().to("cpu").contiguous()
    raw = memoryview(t.reshape(-1).view(torch.uint8).numpy()) if t.numel() else memoryview(b"")
    files = []
    for k, start in enumerate(range(0, max(len(raw), 1), PART_BYTES)):
        files.append(f"{name}.{k}")
        with open(folder / files[-1], "wb") as f:
            f.write(raw[start:start + PART_BYTES])
    return FileTensor(dtype=str(t.dtype).removeprefix("torch."), shape=list(t.shape), files=files)


def tensor_bytes(dtype_name: str, shape: list[int]) -> int:
    import torch

    numel = 1
    for s in shape:
        numel *= s
    return numel * torch.empty((), dtype=getattr(torch, dtype_name)).element_size()


def read_tensor(folder: Path, desc: Any):
    """Trusted side: rebuild a tensor from a worker's description, checking everything."""
    import torch

    try:
        desc = FileTensor.model_validate(desc)
    except ValidationError as e:
        raise ProtocolError(f"bad tensor description: {e.errors()[0]['msg']}") from e
    nbytes = tensor_bytes(desc.dtype, desc.shape)
    parts = max(1, -(-nbytes // PART_BYTES))
    if len(desc.files) != parts or len(set(desc.files)) != parts:
        raise ProtocolError(f"{nbytes} bytes come in {parts} distinct files, not {len(desc.files)}")
    raw = torch.empty(nbytes, dtype=torch.uint8)
    view = memoryview(raw.numpy()).cast("B") if nbytes else memoryview(b"")  # type: ignore[arg-type]
    for k, name in enumerate(desc.files):
        _read_part(folder / name, view[k * PART_BYTES:(k + 1) * PART_BYTES])
    return raw.view(getattr(torch, desc.dtype)).reshape(desc.shape)


def _read_part(path: Path, view: memoryview) -> None:
    name = path.name
    try:
        # O_NONBLOCK: opening a FIFO the worker left in place of a part must not wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise ProtocolError(f"cannot open tensor file {name}: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ProtocolError(f"tensor file {name} is not a regular file")
        if st.st_size != len(view):
            raise ProtocolError(f"tensor file {name} holds {st.st_size} bytes, expected {len(view)}")
        got = 0
        while got < len(view):
            n = os.readv(fd, [view[got:]])
            if n == 0:
                raise ProtocolError(f"tensor file {name} shrank while being read")
            got += n
    finally:
        os.close(fd)
