"""The private channel between the trusted grader and a worker.

Frames are a 4-byte length and a JSON object; nothing is ever unpickled, so a
hostile worker can send wrong data but never code. Tensors travel as raw bytes
in files of the sandbox's exchange folder (shared memory where the machine has
it); a frame carries only their dtype, shape and file name, and the reader
checks all three against the file before it trusts a byte of it.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import time
from pathlib import Path
from typing import Any

MAX_FRAME = 16 << 20

DTYPES = ("float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool",
          "complex64", "complex128")


class ProtocolError(RuntimeError):
    """The peer broke the protocol: garbage on the channel, a bad tensor file, a hang-up."""


class ChannelTimeout(ProtocolError):
    pass


class Channel:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buf = bytearray()

    def send(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj, allow_nan=True).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)

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
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
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


def write_tensor(folder: Path, name: str, tensor) -> dict[str, Any]:
    """Worker side: dump a tensor's bytes to folder/name and describe it."""
    import torch

    t = tensor.detach().to("cpu").contiguous()
    dtype = str(t.dtype).removeprefix("torch.")
    path = folder / name
    with open(path, "wb") as f:
        if t.numel():
            f.write(t.reshape(-1).view(torch.uint8).numpy().data)
    return {"file": name, "dtype": dtype, "shape": list(t.shape)}


def read_tensor(folder: Path, desc: Any):
    """Trusted side: rebuild a tensor from a worker's description, checking everything."""
    import torch

    if not isinstance(desc, dict):
        raise ProtocolError("tensor description is not an object")
    name, dtype_name, shape = desc.get("file"), desc.get("dtype"), desc.get("shape")
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise ProtocolError(f"bad tensor file name {name!r}")
    if dtype_name not in DTYPES:
        raise ProtocolError(f"unsupported dtype {dtype_name!r}")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                              for s in shape) or len(shape) > 16:
        raise ProtocolError(f"bad shape {shape!r}")
    dtype = getattr(torch, dtype_name)
    numel = 1
    for s in shape:
        numel *= s
    itemsize = torch.empty((), dtype=dtype).element_size()
    path = folder / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise ProtocolError(f"cannot open tensor file {name}: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ProtocolError(f"tensor file {name} is not a regular file")
        if st.st_size != numel * itemsize:
            raise ProtocolError(f"tensor file {name} holds {st.st_size} bytes, expected {numel * itemsize}")
        raw = torch.empty(numel * itemsize, dtype=torch.uint8)
        if numel:
            view = memoryview(raw.numpy()).cast("B")
            got = 0
            while got < len(view):
                n = os.readv(fd, [view[got:]])
                if n == 0:
                    raise ProtocolError(f"tensor file {name} shrank while being read")
                got += n
    finally:
        os.close(fd)
    return raw.view(dtype).reshape(shape)
