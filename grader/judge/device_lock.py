"""A machine-wide lock per device, held while timing.

Gradings may compile and check side by side, but two that time at once on one GPU (or on the
CPU) would each measure the other's load. Every grading takes this lock for its timing phase, so
a batch of gradings run in parallel still times one at a time.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.errors import Cancelled


def lock_path(device: str) -> Path:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "all") if device == "cuda" else "host"
    return Path(tempfile.gettempdir()) / f"kgrader-timing-{device}-{visible.replace(',', '_')}.lock"


@contextmanager
def exclusive(device: str, cancel: threading.Event, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the device's timing lock; `on_wait` is called once if another grading holds it now."""
    with open(lock_path(device), "a") as f:
        waited = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    on_wait()
                    waited = True
                if cancel.is_set():
                    raise Cancelled()
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
