"""Input shapes, dtypes and sizes of a problem for the preview, from one long-lived child process.

Why this shape: each preview used to start `python -c` that imported torch (2-3 s of a core when the
machine is idle) to work out its shapes. Holding Down in the problem list started one
such child per problem, all at once (a cancelled Textual thread worker keeps its thread and its child),
and on a shared 2-core machine, with the GPU probe importing torch beside them, the answer for the
problem under the cursor came 7-25 s later. Now one child imports torch once (the app starts it in the
background), answers one question at a time over a pipe, skips questions nobody waits for any more,
and the answers are cached per file content (sha256), so a second look costs nothing and an edited
file is described again. Importing a problem runs its module code, so it stays out of the app's process
(tensors are made on the meta device there: nothing is allocated). A problem that hangs costs its own
timeout: the child is killed and the next question starts a fresh one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
            "int8": 1, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16, "float8_e4m3fn": 1,
            "float8_e5m2": 1}
_TENSOR = re.compile(r"^\((?P<shape>[\d, ]*)\) (?P<dtype>\w+)$")


def tensor_bytes(desc: str) -> int | None:
    """Bytes of a tensor described as '(512, 4096) float32'; None for anything else."""
    m = _TENSOR.match(desc)
    if m is None or m["dtype"] not in ITEMSIZE:
        return None
    n = 1
    for d in filter(None, (x.strip() for x in m["shape"].split(","))):
        n *= int(d)
    return n * ITEMSIZE[m["dtype"]]


@dataclass
class Inputs:
    inputs: list[str]
    init_inputs: list[str]
    note: str = ""
    input_bytes: int | None = None
    output_bytes: int | None = None


class Describer:
    """Thread-safe; `describe` blocks (call it from a worker thread), `cached` does not."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._cache: dict[str, Inputs] = {}
        self._lock = threading.Lock()
        self.asked = 0          # questions that reached the child (the cache answered the rest)

    @staticmethod
    def _key(path: Path) -> str | None:
        try:
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return None

    def cached(self, path: Path) -> Inputs | None:
        key = self._key(path)
        return self._cache.get(key) if key else None

    def start(self) -> None:
        """Start the child now, so its torch import is done before the first question."""
        with self._lock:
            self._ensure()

    def describe(self, path: Path, timeout: float = 120, wanted: Callable[[], bool] = lambda: True) -> Inputs | None:
        """The problem's inputs; None when `wanted()` turned false while this waited for an earlier question."""
        path = Path(path)
        key = self._key(path)
        if key is None:
            return Inputs([], [], f"cannot read {path}")
        if key in self._cache:
            return self._cache[key]
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if not wanted():
                return None
            result = self._ask(path, timeout)
            self._cache[key] = result
            return result

    def _ensure(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": "",
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
            self._proc = subprocess.Popen([sys.executable, "-m", "tui.describer"], env=env, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        return self._proc

    def _ask(self, path: Path, timeout: float) -> Inputs:
        proc = self._ensure()
        self.asked += 1
        try:
            proc.stdin.write((json.dumps(str(path)) + "\n").encode())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            line = proc.stdout.readline() if ready else b""
        except OSError as e:
            self._kill()
            return Inputs([], [], f"could not describe the inputs: {e}")
        if not ready:
            self._kill()
            return Inputs([], [], f"describing the inputs took over {timeout:.0f}s")
        try:
            return Inputs(*json.loads(line))
        except (ValueError, TypeError):
            self._kill()
            return Inputs([], [], "could not describe the inputs: the describer process died")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        self._kill()


def _child() -> int:
    """Answer one JSON line (a problem path) with one JSON line (inputs, init inputs, note, input bytes, output
    bytes: grader.judge.sizing's figures, the ones a grading is sized by), until stdin ends."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)           # what a problem module prints must not land in the answers
    from grader.judge import sizing

    for line in sys.stdin:
        try:
            size = sizing.measure(Path(json.loads(line)))
            reply = [size.inputs, size.init_inputs, size.note, size.input_bytes, size.output_bytes]
        except Exception as e:  # noqa: BLE001 - one problem's failure, reported; the next one is asked anyway
            reply = [[], [], f"could not describe the inputs: {type(e).__name__}: {e}"]
        answers.write(json.dumps(reply) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    from grader.process import exit_now

    exit_now(_child())   # without the interpreter's teardown: a second of a core, with torch imported
