"""The watch loop both providers run over a worker's limits, and the local provider's process-tree watchdog.

rlimits bound one process; a worker that forks splits its use across many. So
the local watchdog sums over every descendant it can see, and remembers every PID it
ever saw so that a kill reaches processes that left the tree with setsid. The Docker
provider reads the container's cgroup instead (sandbox/docker/cgroups.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

from . import gpu_memory
from .base import Limits


def folder_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root, onerror=lambda e: None):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


# A probe the loop runs every `every` ticks: the cause of a breach ("memory", "pids", "disk", "gpu_memory")
# or None.
Check = tuple[int, Callable[[], str | None]]


def disk_check(folders: list[Path], limit: int) -> Callable[[], str | None]:
    return lambda: "disk" if sum(folder_bytes(f) for f in folders) > limit else None


def gpu_breach(pids: set[int], limit: int) -> str | None:
    return "gpu_memory" if gpu_memory.used_by(pids) > limit else None


class WatchLoop:
    """A thread that runs its checks every period and stops the worker (on_breach) at the first breach.

    Both providers watch this way; what they read differs (the local one a process tree through /proc,
    the Docker one the container's cgroup), so each brings its own checks."""

    def __init__(self, checks: list[Check], on_breach: Callable[[str], None], period_s: float,
                 until: threading.Event | None = None):
        self.checks = checks
        self.on_breach = on_breach
        self.period_s = period_s
        self._until = until or threading.Event()   # the worker ended: nothing left to watch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sandbox-watchdog")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread() and self._thread.ident is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(self.period_s) and not self._until.is_set():
            ticks += 1
            for every, check in self.checks:
                cause = check() if ticks % every == 0 else None
                if cause:
                    self.on_breach(cause)
                    return


class Watchdog(WatchLoop):
    """The local provider's: sums memory and threads over every descendant it can see, and remembers every
    PID it ever saw so that a kill reaches processes that left the tree with setsid."""

    def __init__(self, pid: int, limits: Limits, folders: list[Path], on_breach: Callable[[str], None],
                 period_s: float = 0.02):
        self.pid = pid
        self.limits = limits
        self._seen: set[int] = set()
        checks: list[Check] = [(1, self._check)]
        if limits.disk_bytes:  # walking folders costs more than reading /proc: every ~0.5 s
            checks.append((25, disk_check(folders, limits.disk_bytes)))
        super().__init__(checks, on_breach, period_s)

    def seen_pids(self) -> list[int]:
        return sorted(self._seen)

    def tree(self) -> list[psutil.Process]:
        procs = []
        for pid in self._walk():
            try:
                procs.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                pass
        return procs

    def _walk(self) -> list[int]:
        """The worker's PIDs, root first. Each tick reads only the tree's own /proc entries (its threads'
        `children` lists): psutil's children() reads every process's stat on the machine, which at one walk
        every 20 ms cost a loaded test machine a tenth of a core per worker. Processes that leave the tree
        by setsid stay in it: the jail's PID namespace makes its init their new parent."""
        if not _CHILDREN_LISTS:
            try:
                root = psutil.Process(self.pid)
                pids = [self.pid, *(p.pid for p in root.children(recursive=True))]
            except psutil.NoSuchProcess:
                pids = []
        else:
            pids, frontier = [], [self.pid]
            while frontier:
                pid = frontier.pop()
                try:
                    tasks = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    continue  # gone; its children, reparented, are found under the namespace's init
                pids.append(pid)
                for tid in tasks:
                    try:
                        with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                            frontier.extend(int(c) for c in f.read().split())
                    except OSError:
                        pass
        self._seen.update(pids)
        return pids

    def _check(self) -> str | None:
        rss = threads = 0
        pids = self._walk()
        for pid in pids:
            try:
                fields = stat_fields(pid)
            except OSError:
                continue
            threads += int(fields[17])      # num_threads (field 20 of proc(5); fields[0] is field 3)
            rss += int(fields[21]) * _PAGE  # rss, in pages (field 24)
        lim = self.limits
        if lim.memory_bytes and rss > lim.memory_bytes:
            return "memory"
        if threads > lim.pids:
            return "pids"
        if lim.gpu_memory_bytes and pids:
            return gpu_breach(set(pids), lim.gpu_memory_bytes)
        return None


def stat_fields(pid: int) -> list[bytes]:
    """The fields of /proc/PID/stat after the command name, which may hold spaces and parentheses: fields[0] is
    field 3 of proc(5), the state. OSError once the process is gone."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()


_PAGE = os.sysconf("SC_PAGE_SIZE")
# /proc/PID/task/TID/children: kernels built without CONFIG_PROC_CHILDREN lack it (psutil's walk then).
_CHILDREN_LISTS = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
