"""`grader batch --executor dask`: the batch's gradings on a Dask cluster (issue 14; docs/scaling.md).

One Dask task is one whole grading. The worker runs the same grading subprocess the local executor runs
(`Gradings.run`: `python -m grader.batch.task`) on its own machine, so the trusted judge stays next to the
sandboxed workers it starts and nothing but JSON crosses the network: the `Task` to the worker, the
`TaskResult` back, and progress events on a topic of the scheduler's event log. Solutions, problems and the
baseline files are read by path: every worker must see the submissions, the assignment's problems and OUT_DIR
at the same paths (a shared file system); a worker that does not says so in the grading's row.

The ledger stays with the runner in this process: a result is recorded when its future completes, and a
Dask future completes once. A worker that dies mid-grading (its grading subprocess dies with it: the
subprocess is bound to the worker's thread by PDEATHSIG) has its task rerun elsewhere by the scheduler;
after `ALLOWED_FAILURES` such deaths the grading is the likely cause and its row says so.

Placement and backpressure: a GPU worker owns one GPU (worker resource `GPU=1`, CUDA_VISIBLE_DEVICES set to
that GPU); a CUDA grading asks for 1/jobs of it, so a worker holds at most `--jobs` gradings (their compiles
overlap; the engine's device lock times one at a time). A CPU grading asks for no resource: a CPU worker owns
no device (the CPU timing locks are per core of a machine, whichever worker holds them), so plain
`dask worker`s take CPU gradings, as many at once as they have threads. The runner keeps at most
`capacity()` = jobs x eligible workers in flight and hands tasks over one free slot at a time, in its own
order (baselines first, then students in folder order), so no queue builds up in Dask where the order could
change.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import ClassVar

from ..errors import UsageError
from ..models import GradeRequest, ProgressEvent
from .executors import ExecutorSettings, Gradings, Task, TaskResult

try:
    import distributed
    from distributed import Client, KilledWorker
except ImportError as e:   # pragma: no cover - the optional extra is missing
    raise UsageError(f"--executor dask needs Dask: pip install -e '.[dask]' ({e})") from e

from .dask_clusters import start_cluster

CAPACITY_REFRESH_S = 2.0
_GRADINGS = Gradings()   # on a worker: its grading subprocesses


def _paths(req: GradeRequest) -> list[str]:
    """The files a grading reads by path (a bundled problem name is found in the worker's own install)."""
    problem = [req.problem] if req.problem.endswith(".py") or "/" in req.problem else []
    return [req.solution, *problem, *([req.problems_dir] if req.problems_dir else [])]


def grade_on_worker(task_json: str, topic: str) -> str:
    """Runs on a Dask worker: one grading, as the local executor runs it. JSON in, JSON out."""
    task = Task.model_validate_json(task_json)
    missing = [p for p in _paths(task.request) if not os.path.exists(p)]
    if missing:
        return TaskResult(key=task.key, error=f"{missing[0]} is not on Dask worker {socket.gethostname()}: the "
                                              "workers need the submissions, problems and OUT_DIR at the same "
                                              "paths as the batch (docs/scaling.md)").model_dump_json()
    worker = distributed.get_worker()

    def forward(key: str, ev: ProgressEvent) -> None:
        worker.log_event(topic, {"key": key, "event": ev.model_dump_json(exclude_none=True)})

    return _GRADINGS.run(task, forward).model_dump_json()


def _why(key: str, exc: BaseException | None) -> TaskResult:
    if isinstance(exc, KilledWorker):
        return TaskResult(key=key, error=f"each Dask worker that ran this grading died while it ran ({exc}); a "
                                         "grading that keeps killing its workers is stopped")
    return TaskResult(key=key, error=f"the Dask cluster did not finish the grading: {type(exc).__name__}: {exc}")


class DaskExecutor:
    name: ClassVar[str] = "dask"

    def __init__(self, settings: ExecutorSettings):
        self.jobs = settings.jobs
        self.gpu = settings.device == "cuda"
        # 1/jobs of a GPU: a worker that owns one holds at most `jobs` CUDA gradings at once.
        self.resources = {"GPU": 1 / settings.jobs} if self.gpu else None
        self.cluster = start_cluster(settings.cluster, settings) if settings.cluster else None
        address = self.cluster.scheduler_address if self.cluster else settings.scheduler
        try:
            self.client = Client(address)   # waits distributed.comm.timeouts.connect (30 s) for the scheduler
        except (OSError, TimeoutError, ValueError) as e:
            if self.cluster:
                self.cluster.close()
            raise UsageError(f"--scheduler {address}: no Dask scheduler answered ({type(e).__name__}: {e}); start "
                             "one with `dask scheduler` and workers with `dask worker` (docs/scaling.md)") from e
        self.topic = f"kgrader-progress-{uuid.uuid4().hex}"
        self.listeners: dict[str, Callable[[str, ProgressEvent], None]] = {}
        self.futures: dict[str, distributed.Future] = {}
        self.lock = threading.Lock()
        self._slots, self._counted_at = 1, 0.0
        self.client.subscribe_topic(self.topic, self._on_event)
        if self.gpu and settings.scheduler:
            workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
            if workers and not any(w.get("resources", {}).get("GPU", 0) >= 1 for w in workers):
                self.shutdown()
                raise UsageError(f"--scheduler {address}: none of its {len(workers)} Dask worker(s) owns a GPU; "
                                 "start one per GPU with `CUDA_VISIBLE_DEVICES=I dask worker ADDRESS "
                                 "--resources GPU=1` (docs/scaling.md)")

    def submit(self, task: Task, on_event: Callable[[str, ProgressEvent], None]) -> Future[TaskResult]:
        out: Future[TaskResult] = Future()
        key = f"grading-{task.key}-{uuid.uuid4().hex[:8]}"
        with self.lock:
            self.listeners[task.key] = on_event
        fut = self.client.submit(grade_on_worker, task.model_dump_json(), self.topic, key=key, pure=False,
                                 resources=self.resources)
        with self.lock:
            self.futures[key] = fut
        fut.add_done_callback(lambda f: self._settle(task.key, key, f, out))
        return out

    def _settle(self, task_key: str, key: str, fut: distributed.Future, out: Future[TaskResult]) -> None:
        try:
            if fut.status == "finished":
                result = TaskResult.model_validate_json(fut.result())
            elif fut.status == "cancelled":
                result = TaskResult(key=task_key, error="the Dask scheduler cancelled the grading (it restarted, "
                                                        "or lost this batch's connection)")
            else:
                result = _why(task_key, fut.exception())
        except Exception as e:   # a result that does not parse, or a scheduler gone while asking
            result = _why(task_key, e)
        with self.lock:
            self.futures.pop(key, None)
            self.listeners.pop(task_key, None)
        out.set_result(result)

    def _on_event(self, event: tuple[float, dict]) -> None:
        msg = event[1]
        with self.lock:
            listener = self.listeners.get(msg.get("key", ""))
        if listener is not None:
            listener(msg["key"], ProgressEvent.model_validate_json(msg["event"]))

    def capacity(self) -> int:
        """`jobs` per worker that can take this batch's gradings (GPU workers for CUDA), at least 1: with no
        worker yet (Slurm jobs still queued) one task waits in the scheduler for the first to arrive."""
        now = time.monotonic()
        if now - self._counted_at >= CAPACITY_REFRESH_S:
            workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
            eligible = [w for w in workers if not self.gpu or w.get("resources", {}).get("GPU", 0) >= 1]
            self._slots, self._counted_at = max(1, self.jobs * len(eligible)), now
        return self._slots

    def shutdown(self) -> None:
        with self.lock:
            pending = list(self.futures.values())
        if pending:
            self.client.cancel(pending)
        try:
            self.client.unsubscribe_topic(self.topic)
        finally:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()   # its workers go, and their gradings with them
