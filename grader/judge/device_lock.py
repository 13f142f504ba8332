"""Machine-wide locks, held while a grading checks and times: one per GPU set, one per CPU core.

Gradings may compile side by side, but two that time at once on one GPU (or on one core) would each
measure the other's load. Every grading takes its locks from its correctness trials on, so a batch of
gradings run in parallel still times one at a time. A CPU grading takes the lock of every core its two
workers are pinned to (engine `cpu_cores`, taken in ascending order so two gradings never wait on each
other): gradings pinned to disjoint cores time side by side, as the test suite's workers (one core each)
do. What they share (memory bandwidth, the last-level cache) is load from elsewhere like any other, met by
the CPU rounds' interleaving and `noisy_timing`.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from grader.errors import Cancelled


def lock_paths(device: str, cores: list[int] | None = None) -> list[Path]:
    """The lock files a grading on `device` takes: the visible GPUs' one, or one per CPU core in `cores`."""
    tmp = Path(tempfile.gettempdir())
    if device == "cuda":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "all")
        return [tmp / f"kgrader-timing-cuda-{visible.replace(',', '_')}.lock"]
    return [tmp / f"kgrader-timing-cpu-core{c}.lock" for c in sorted(set(cores or [0]))]


@contextmanager
def exclusive(device: str, cancel: threading.Event, on_wait: Callable[[], None],
              cores: list[int] | None = None) -> Iterator[None]:
    """Hold the device's timing locks; `on_wait` is called once if another grading holds one now."""
    waited = False
    with ExitStack() as stack:
        for path in lock_paths(device, cores):
            f = stack.enter_context(open(path, "a"))
            while not _try(f):
                if not waited:
                    on_wait()
                    waited = True
                if cancel.is_set():
                    raise Cancelled()
                time.sleep(0.1)
            stack.callback(fcntl.flock, f, fcntl.LOCK_UN)
        yield


def _try(f: IO[str]) -> bool:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
