"""The interface every isolation backend implements.

A sandbox runs one Python module as an untrusted worker. It knows nothing of
what the worker does: it gives the worker read-only files, a private exchange
folder, one private byte channel to the caller, and limits, and it tells the
caller why it stopped the worker when it did.
"""

from __future__ import annotations

import abc
import socket
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_bytes: int | None = Field(8 << 30, description="host memory of the whole process tree")
    gpu_memory_bytes: int | None = Field(None, description="GPU memory of the whole process tree")
    pids: int = Field(256, description="processes and threads alive at once")
    file_bytes: int = Field(2 << 30, description="largest file the worker may write")
    disk_bytes: int = Field(4 << 30, description="all the worker may write to its private folders")
    log_bytes: int = Field(256 << 10, description="stdout+stderr kept: this much from the start and from the end")
    cpu_s: int | None = Field(None, description="CPU seconds, as a backstop to the caller's wall clock")
    network: bool = False
    gpu: bool = False


class WorkerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    module: str = Field(description="python module run with -m")
    files: dict[str, str] = Field(default_factory=dict, description="name -> host path, readable inside")
    pythonpath: list[str] = Field(default_factory=list, description="host folders put on sys.path inside")
    packages: list[str] | None = Field(None, description="what is shown of each pythonpath folder: these packages "
                                       "only (a site-packages holds much else); None: all it can import")
    env: dict[str, str] = Field(default_factory=dict, description="extra variables; nothing else is inherited")
    limits: Limits = Field(default_factory=Limits)
    connect_timeout_s: float = 60.0


class SandboxError(RuntimeError):
    """The backend could not start or talk to a worker."""


class LogTail:
    """Keeps the head and the tail of a stream; what lies between is counted, not kept."""

    def __init__(self, keep: int):
        self._keep = keep
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        with self._lock:
            room = self._keep - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            self._tail += chunk
            extra = len(self._tail) - self._keep
            if extra > 0:
                del self._tail[:extra]
                self._dropped += extra

    def text(self) -> str:
        with self._lock:
            middle = f"\n[... {self._dropped} bytes of output dropped ...]\n" if self._dropped else ""
            return (bytes(self._head).decode("utf-8", "replace") + middle
                    + bytes(self._tail).decode("utf-8", "replace"))

    def pump(self, stream) -> threading.Thread:
        """Drain `stream` in a daemon thread, so a chatty worker never blocks on a full pipe."""

        def run():
            for chunk in iter(lambda: stream.read1(65536), b""):
                self.feed(chunk)

        t = threading.Thread(target=run, daemon=True, name="sandbox-log")
        t.start()
        return t


class Worker(abc.ABC):
    """A running worker. `channel` is connected once `start()` returns."""

    channel: socket.socket
    exchange: Path          # host path of the folder shared with the worker
    paths: dict[str, str]   # spec.files as the worker sees them

    @abc.abstractmethod
    def poll(self) -> int | None:
        """Exit code, or None while running."""

    @abc.abstractmethod
    def kill(self, cause: str | None = None) -> None:
        """Stop the worker and everything it started; idempotent. `cause` is kept for `stop_cause`."""

    @abc.abstractmethod
    def stop_cause(self) -> str | None:
        """Why the sandbox stopped the worker: 'memory', 'gpu_memory', 'pids', 'disk', 'timeout', or None."""

    @abc.abstractmethod
    def log(self) -> str:
        """Bounded stdout+stderr of the worker."""

    @abc.abstractmethod
    def pause(self) -> None:
        """Stop every process of the worker until `resume()`, so it can use no CPU while another is timed.
        GPU work it already queued is not stopped: callers that need the GPU idle close the worker instead."""

    @abc.abstractmethod
    def resume(self) -> None:
        """Undo `pause()`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Kill if needed and delete every trace: processes, folders, containers."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Sandbox(abc.ABC):
    name: str

    @classmethod
    @abc.abstractmethod
    def available(cls) -> tuple[bool, str]:
        """(usable here, one-line reason when not)."""

    @abc.abstractmethod
    def start(self, spec: WorkerSpec) -> Worker:
        """Start a worker and wait for it to connect its channel."""
