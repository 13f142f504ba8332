"""Where the gradings of a batch run. The runner decides what runs, in which order and on which GPU lane;
an executor only runs one `Task` and hands back a `TaskResult`.

`EXECUTORS` names each executor once. `local` runs every grading as a subprocess of this machine; `dask`
(grader/batch/dask_executor.py, an optional extra) hands each `Task` to a Dask worker, which runs the same
grading subprocess on its own machine.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel, ValidationError

from ..models import GradeRequest, ProgressEvent, Report
from .task import TaskOutcome

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)
WALL_MARGIN_S = 120.0   # start-up, worker start and the fresh-input checks on top of the phase limits


class Task(BaseModel):
    key: str                   # the runner's name for it, e.g. "alice/softmax" or "baseline/softmax@0"
    request: GradeRequest
    gpu: str | None = None     # CUDA_VISIBLE_DEVICES of its workers; None: whatever this process sees


class TaskResult(BaseModel):
    key: str
    report: Report | None = None
    error: str = ""            # why there is no report: the grading refused its input, crashed, or hung
    hung: bool = False
    log: str = ""              # the grading process's own stderr tail (not the solution's output)
    wall_s: float = 0.0


def wall_limit(req: GradeRequest) -> float:
    """How long a grading may take in all before it is killed: every phase limit, the timing ones several
    times over (candidate, eager, compile, the cross-checks), plus start-up."""
    t = req.timeouts
    return t.compile + 2 * t.correctness + 5 * t.timing + WALL_MARGIN_S


class ExecutorSettings(BaseModel):
    jobs: int                          # local: gradings at once; dask: gradings at once per worker
    device: Literal["cuda", "cpu"]
    scheduler: str | None = None       # dask: the address of a running scheduler
    cluster: str | None = None         # dask: a cluster to start, "local:N" or "slurm:CONFIG.yaml"


class Executor(Protocol):
    name: ClassVar[str]

    def submit(self, task: Task, on_event: Callable[[str, ProgressEvent], None]) -> Future[TaskResult]: ...

    def capacity(self) -> int:
        """How many gradings it takes at once now (at least 1); the runner keeps no more than that in flight."""
        ...

    def shutdown(self) -> None: ...


# NVLink multicast stays off wherever a grading may run on a GPU: on a host whose GPUs others share, a program
# that uses it can take them out of service for a long time. Nothing in a grading needs it.
MULTICAST_OFF = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


def _die_with_parent() -> None:
    # A batch that is killed (even with SIGKILL) takes its gradings with it; their workers follow the same way.
    os.setsid()
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Gradings:
    """Grading subprocesses of this machine (`python -m grader.batch.task`), each killed with the thread that
    started it and, on `kill_all`, at once. The local executor runs them; so does every Dask worker."""

    def __init__(self) -> None:
        self.procs: set[subprocess.Popen] = set()
        self.lock = threading.Lock()

    def kill_all(self) -> None:
        with self.lock:
            for proc in self.procs:
                _kill(proc)

    def run(self, task: Task, on_event: Callable[[str, ProgressEvent], None]) -> TaskResult:
        folder = Path(tempfile.mkdtemp(prefix="kgrader-task-"))
        try:
            spec, result = folder / "spec.json", folder / "result.json"
            spec.write_text(task.request.model_dump_json())
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT,
                                                                               os.environ.get("PYTHONPATH")]))}
            if task.request.device == "cuda":
                env.update(MULTICAST_OFF)
            if task.gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = task.gpu
            started = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "grader.batch.task", str(spec), str(result)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, preexec_fn=_die_with_parent)
            with self.lock:
                self.procs.add(proc)
            err_tail: deque[str] = deque(maxlen=200)
            drain = threading.Thread(target=lambda: err_tail.extend(proc.stderr), daemon=True)
            drain.start()
            limit = wall_limit(task.request)
            timer = threading.Timer(limit, _kill, (proc,))
            timer.start()
            try:
                for line in proc.stdout:
                    try:
                        on_event(task.key, ProgressEvent.model_validate(json.loads(line)))
                    except (ValueError, ValidationError):
                        pass
                code = proc.wait()
            finally:
                timer.cancel()
                with self.lock:
                    self.procs.discard(proc)
            drain.join(5)
            wall = round(time.monotonic() - started, 3)
            log = "".join(err_tail)[-8000:]
            if time.monotonic() - started >= limit:
                return TaskResult(key=task.key, hung=True, log=log, wall_s=wall,
                                  error=f"the grading did not finish within {limit:.0f}s and was stopped")
            try:
                outcome = TaskOutcome.model_validate_json(result.read_text())
            except (OSError, ValidationError) as e:
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                return TaskResult(key=task.key, log=log, wall_s=wall,
                                  error=f"the grading process ended with {how} and no result ({type(e).__name__})")
            return TaskResult(key=task.key, report=outcome.report, error=outcome.error, log=log, wall_s=wall)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class LocalExecutor:
    """Each grading in a subprocess of this machine, at most `jobs` at a time."""

    name: ClassVar[str] = "local"

    def __init__(self, settings: ExecutorSettings):
        self.jobs = settings.jobs
        self.pool = ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="grading")
        self.gradings = Gradings()

    def submit(self, task: Task, on_event: Callable[[str, ProgressEvent], None]) -> Future[TaskResult]:
        return self.pool.submit(self.gradings.run, task, on_event)

    def capacity(self) -> int:
        return self.jobs

    def shutdown(self) -> None:
        self.gradings.kill_all()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _dask(settings: ExecutorSettings) -> Executor:
    from .dask_executor import DaskExecutor  # an optional extra: imported only when asked for

    return DaskExecutor(settings)


EXECUTORS: dict[str, Callable[[ExecutorSettings], Executor]] = {LocalExecutor.name: LocalExecutor, "dask": _dask}
