"""Pieces every backend shares: where per-worker folders go, the channel hand-shake, the base environment."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

from .base import SandboxError, Worker

# NVLink multicast's off switches (a lent GPU host's rule: they stay set in every program started there, with
# its own environment too); a grading's workers keep whatever the grader was given.
MULTICAST_ENV = ("NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS")


def scratch_root() -> Path:
    """Where per-worker folders go: $KG_SANDBOX_DIR when set, else shared memory when there is room
    (tensors handed back are read at memory speed), else the temporary folder."""
    chosen = os.environ.get("KG_SANDBOX_DIR")
    if chosen:
        return Path(chosen)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 4 << 30:
        return shm
    return Path(tempfile.gettempdir())


def listen(path: Path) -> socket.socket:
    """The one-connection unix socket the worker dials first thing."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if len(os.fsencode(path)) < 100:
        listener.bind(str(path))
    else:  # past sun_path's 108 bytes: bind through the folder's descriptor (Linux)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            listener.bind(f"/proc/self/fd/{fd}/{path.name}")
        finally:
            os.close(fd)
    listener.listen(1)
    return listener


def accept_channel(listener: socket.socket, timeout: float, worker: Worker) -> socket.socket:
    """Wait for the worker's connection; give up early when it dies, kill it ('timeout') when it never dials."""
    deadline = time.monotonic() + timeout
    listener.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            conn, _ = listener.accept()
            conn.settimeout(None)
            return conn
        except TimeoutError:
            code = worker.poll()
            if code is not None:
                raise SandboxError(f"worker exited with code {code} before connecting:\n{worker.log()[-2000:]}")
    worker.kill("timeout")
    raise SandboxError(f"worker did not connect within {timeout:.0f}s")


def base_env(*, home: str, tmp: str, build: str, channel: str, exchange: str, pythonpath: list[str]) -> dict[str, str]:
    """Variables every worker gets, wherever it runs; the backend adds PATH and what it passes through."""
    return {
        "HOME": home,
        "TMPDIR": tmp,
        "TORCH_EXTENSIONS_DIR": build,
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "KG_CHANNEL": channel,
        "KG_EXCHANGE": exchange,
    }


def remove_tree(path: Path) -> None:
    """rmtree that also gets through folders a worker made unreadable (chmod 000) to keep them."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    for dirpath, dirs, _files in os.walk(path, onerror=lambda e: None):
        for d in dirs:
            try:
                os.chmod(os.path.join(dirpath, d), stat.S_IRWXU, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
    try:
        os.chmod(path, stat.S_IRWXU)
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


def importables(folder: str, only: list[str] | None = None) -> list[str]:
    """What Python can import from a folder of the Python path, as paths relative to it to mount one by one:
    its packages and modules, nothing else. With `only`, just those (dotted names: `pkg.sub` brings
    pkg/__init__.py and pkg/sub, not the rest of pkg)."""
    if only is None:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        return [n for n in names if not n.startswith(".") and _importable(folder, n)]
    chosen: set[str] = set()
    for dotted in only:
        parts = dotted.split(".")
        parents = [os.path.join(*parts[:i], "__init__.py") for i in range(1, len(parts))]
        leaf = os.path.join(*parts)
        if not os.path.isfile(os.path.join(folder, leaf, "__init__.py")):
            leaf += ".py"
        if os.path.exists(os.path.join(folder, leaf)) and all(os.path.isfile(os.path.join(folder, p)) for p in parents):
            chosen.update(parents + [leaf])
    # a file inside a folder mounted whole is already there
    return sorted(p for p in chosen if not any(p.startswith(q + os.sep) for q in chosen))


def _importable(folder: str, name: str) -> bool:
    path = os.path.join(folder, name)
    return (name.endswith(".py") and os.path.isfile(path)) or os.path.isfile(os.path.join(path, "__init__.py"))
