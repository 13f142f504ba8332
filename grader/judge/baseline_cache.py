"""The reference's torch.compile artifacts, kept between gradings of the same problem.

Without it every grading compiles the torch.compile baseline again: on the 2-core CPU machine that is ~45 s
of a ~70 s grading of `a + b`, for a figure that depends only on the problem and the toolchain.

How it flows:
- the reference worker keeps its JIT caches (Inductor's, and Triton's for the kernels Inductor writes) in
  JIT_FOLDER of its exchange folder (grader/jail/backends.py `worker_env`), never the candidate's;
- before the reference runs anything, `seed` unpacks the entry for this problem there, if there is one;
- after a grading that compiled the baseline without an entry, `harvest` packs that folder (plain files and
  folders only, opened without following links) into one blob of the compile cache.

The entry's key is the problem file's bytes, its `--dims` and `--precision`, the device, the CPU threads and
the toolchain (grader/judge/compile_cache.py). Only the reference of that same problem ever wrote it, so it
holds nothing the problem's own code could not make; candidates never see it. It lives and is evicted
with the compile cache's entries, and is off wherever that cache is (a sandbox a worker could write out of).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import time
from pathlib import Path

from grader.jail.backends import JIT_FOLDER

from . import compile_cache

MAX_BYTES = 256 << 20   # a larger JIT folder is not kept (it would crowd the extensions out of the cache)


def key(problem: Path, dims: dict[str, int] | None, precision: str | None, device: str, threads: int,
        tools: dict[str, str]) -> str:
    what = {"baseline": "torch.compile", "problem": hashlib.sha256(problem.read_bytes()).hexdigest(),
            "dims": dict(sorted((dims or {}).items())), "precision": precision, "device": device, "threads": threads}
    return compile_cache._digest(what, tools)


def seed(cache: compile_cache.CompileCache, entry_key: str, exchange: Path) -> bool:
    """Unpack the entry into the reference's JIT folder; False on a miss. Call before the worker loads."""
    blob = cache.get(entry_key)
    if blob is None or not hasattr(tarfile, "data_filter"):  # an interpreter without tarfile's safe filters
        return False
    folder = exchange / JIT_FOLDER
    try:
        owner = os.stat(exchange, follow_symlinks=False)
        folder.mkdir(mode=0o700)   # never one the worker made
        with tarfile.open(blob) as tar:
            tar.extractall(folder, filter="data")
        if (owner.st_uid, owner.st_gid) != (os.getuid(), os.getgid()):  # a Docker worker runs as its own user
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
    except (OSError, tarfile.TarError):
        shutil.rmtree(folder, ignore_errors=True)
        return False
    return True


def harvest(cache: compile_cache.CompileCache, entry_key: str, exchange: Path, build_s: float) -> bool:
    """Pack the reference's JIT folder into the cache as `entry_key`; False when there was nothing to keep."""
    if not cache.enabled:
        return False
    with tempfile.TemporaryFile() as out:
        try:
            top = os.open(exchange, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                jit = os.open(JIT_FOLDER, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            finally:
                os.close(top)
            with tarfile.open(fileobj=out, mode="w") as tar:
                files = _pack(tar, jit, "", [0])
        except (OSError, ValueError):  # no folder, a link where a folder was, or over MAX_BYTES
            return False
        if not files:
            return False
        cache.put(entry_key, "torch.compile baseline", out.fileno(), build_s)
    return True


def _pack(tar: tarfile.TarFile, dfd: int, prefix: str, total: list[int]) -> int:
    """Add what the folder `dfd` holds (closed here): plain files and folders, opened relative to their
    folder without following links, so a link the worker planted leads nowhere. Returns the files added."""
    files = 0
    try:
        for name in sorted(os.listdir(dfd)):
            path = f"{prefix}{name}"
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
            except OSError:  # a link (ELOOP), or gone
                continue
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                info = tarfile.TarInfo(path)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, int(time.time())
                tar.addfile(info)
                files += _pack(tar, fd, path + "/", total)
                continue
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(st.st_mode):
                    continue
                total[0] += st.st_size
                if total[0] > MAX_BYTES:
                    raise ValueError("the JIT folder is over the size limit")
                info = tarfile.TarInfo(path)
                info.size, info.mode, info.mtime = st.st_size, 0o700 if st.st_mode & 0o100 else 0o600, int(st.st_mtime)
                tar.addfile(info, f)
                files += 1
    finally:
        os.close(dfd)
    return files
