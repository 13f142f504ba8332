"""A thread that watches a worker's whole process tree and stops it on a breach of its limits.

rlimits bound one process; a worker that forks splits its use across many. So
the watchdog sums over every descendant it can see, and remembers every PID it
ever saw so that a kill reaches processes that left the tree with setsid.
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


class Watchdog:
    def __init__(self, pid: int, limits: Limits, folders: list[Path], on_breach: Callable[[str], None],
                 period_s: float = 0.02):
        self.pid = pid
        self.limits = limits
        self.folders = folders
        self.on_breach = on_breach
        self.period_s = period_s
        self.peak_memory = 0
        self.peak_gpu_memory = 0
        self._seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sandbox-watchdog")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def seen_pids(self) -> list[int]:
        return sorted(self._seen)

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        self._seen.update(p.pid for p in procs)
        return procs

    def _check(self) -> str | None:
        procs = self.tree()
        if not procs:
            return None
        rss = threads = 0
        for p in procs:
            try:
                rss += p.memory_info().rss
                threads += p.num_threads()
            except psutil.Error:
                pass
        self.peak_memory = max(self.peak_memory, rss)
        lim = self.limits
        if lim.memory_bytes and rss > lim.memory_bytes:
            return "memory"
        if threads > lim.pids:
            return "pids"
        if lim.gpu_memory_bytes:
            used = gpu_memory.used_by({p.pid for p in procs})
            self.peak_gpu_memory = max(self.peak_gpu_memory, used)
            if used > lim.gpu_memory_bytes:
                return "gpu_memory"
        return None

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(self.period_s):
            cause = self._check()
            # Walking folders costs more than reading /proc, so do it every ~0.5 s.
            ticks += 1
            if cause is None and ticks % 25 == 0 and self.limits.disk_bytes:
                if sum(folder_bytes(f) for f in self.folders) > self.limits.disk_bytes:
                    cause = "disk"
            if cause:
                self.on_breach(cause)
                return
