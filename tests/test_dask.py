"""`grader batch --executor dask`: the classroom CPU class graded through real Dask clusters (a cluster the
batch starts, one this test starts, and scheduler and workers started as separate processes by Dask's own
CLI), a worker killed mid-grading, and the options' one-line errors. Skipped when Dask is not installed (the
`dask` extra)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("dask_jobqueue")

from grader.batch.dask_clusters import load_slurm_config, slurm_cluster  # noqa: E402
from grader.batch.executors import ExecutorSettings  # noqa: E402
from grader.errors import UsageError  # noqa: E402
from grader.models import GradeRequest  # noqa: E402
from kgtest import ROOT, grader_env, run_grader  # noqa: E402
from test_batch import ASSIGNMENT, batch_argv, descendants, ledger_rows, make_class  # noqa: E402

EXPECTED = {"alice": "passed", "bob": "incorrect", "frank": "passed", "grace": "missing", "heidi": "passed"}


def dask_argv(subs, out, *extra):
    return [sys.executable, "-m", "grader", "batch", str(ASSIGNMENT), str(subs), "--out", str(out), "--jobs", "1",
            "--executor", "dask", *extra]


def verdicts(out):
    """Per student: the current verdict, the correctness test's score and status as exported, and the
    gradebook's columns (the performance points are left out: they follow timings)."""
    current = {r["student"]: r for r in ledger_rows(out) if r["current"]}
    rows = list(csv.reader((out / "gradebook.csv").open(newline="")))
    book = {r[0]: r for r in rows[2:]}
    got = {}
    for student, row in current.items():
        gs = json.loads((out / "gradescope" / student / "results.json").read_text())
        got[student] = (row["status"], gs["tests"][0]["score"], gs["tests"][0]["status"], student in book)
    return got, rows[0], rows[1]


def gradings_below(pid):
    """The grading subprocesses below `pid`, each with the pid of its parent."""
    found = {}
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{p}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if b"grader.batch.task" in argv:
            found[p] = (parent, [a.decode() for a in argv if a])
    return found


def exactly_one_result_each(out, students):
    rows = ledger_rows(out)
    pairs = [(r["student"], r["problem"]) for r in rows]
    assert sorted(pairs) == sorted((s, "add") for s in students), rows
    assert all(r["state"] == "done" and r["current"] for r in rows), rows
    return {r["student"]: r for r in rows}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_local_dask_cluster_grades_the_class_as_the_local_executor_does(tmp_path):
    subs = tmp_path / "subs"
    make_class(subs, EXPECTED)
    env = grader_env({"MAX_JOBS": "1"})
    local = subprocess.run(batch_argv(subs, tmp_path / "local"), cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=1500)
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]

    # --cluster local:2: a scheduler in the batch's process, 2 worker processes under their nannies.
    proc = subprocess.Popen(dask_argv(subs, tmp_path / "dask", "--cluster", "local:2"), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    parents = set()
    while proc.poll() is None:
        parents |= {parent for parent, _ in gradings_below(proc.pid).values()}
        time.sleep(0.5)
    output = proc.stdout.read()
    assert proc.returncode == 0, output[-4000:]
    # Every grading ran in a worker process, none in the batch's own.
    assert parents and proc.pid not in parents, output[-2000:]

    want, header, possible = verdicts(tmp_path / "local")
    got, dheader, dpossible = verdicts(tmp_path / "dask")
    assert {s: v[0] for s, v in want.items()} == EXPECTED
    assert got == want and dheader == header and dpossible == possible
    exactly_one_result_each(tmp_path / "dask", EXPECTED)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_worker_killed_mid_grading_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    students = ("alice", "bob", "grace", "heidi")
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_class(subs, students)
    for k, v in grader_env({"MAX_JOBS": "1"}).items():
        monkeypatch.setenv(k, v)   # the workers' environment: this checkout on the path
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=0) as cluster, Client(cluster) as client:
        proc = subprocess.Popen(dask_argv(subs, out, "--scheduler", cluster.scheduler_address), cwd=ROOT,
                                env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        victim = None
        deadline = time.monotonic() + 1200
        while victim is None and proc.poll() is None and time.monotonic() < deadline:
            for addr, pid in client.run(os.getpid).items():
                for grading, (_, argv) in gradings_below(pid).items():
                    req = GradeRequest.model_validate_json(open(argv[-2]).read())
                    if str(subs) in req.solution:   # a student's grading, not the baselines
                        victim = (addr, pid, grading, req.solution)
            time.sleep(0.5)
        assert victim is not None, "no student grading was seen running on a worker"
        time.sleep(3)   # well inside the grading: its workers are up
        addr, pid, grading, solution = victim
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists(f"/proc/{grading}"):
            time.sleep(0.2)
        assert not os.path.exists(f"/proc/{grading}"), "the grading outlived its worker"
        try:
            output, _ = proc.communicate(timeout=1500)
        finally:
            proc.kill()
    assert proc.returncode == 0, output[-4000:]
    rows = exactly_one_result_each(out, students)
    # The killed grading was rerun on a worker and ended with its own verdict, not with the worker's death.
    assert {s: r["status"] for s, r in rows.items()} == {s: EXPECTED[s] for s in students}, \
        (solution, {s: r["message"] for s, r in rows.items()})
    assert all(r["attempt"] == 1 for r in rows.values())
    assert (out / "gradebook.csv").read_text().count("\n") == 2 + len(students)


def scheduler_address(file: Path, scheduler: subprocess.Popen) -> str:
    """The address the scheduler wrote. It creates the file before it writes it, so an empty or half-written
    file is read again, until the scheduler has written it whole or exited."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and scheduler.poll() is None:
        try:
            return json.loads(file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.2)
    raise AssertionError(f"the dask scheduler wrote no address to {file} (exit code {scheduler.poll()})")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_scheduler_and_workers_started_by_the_dask_cli(tmp_path):
    students = ("bob", "grace", "heidi")
    subs, out = tmp_path / "subs", tmp_path / "out"
    make_class(subs, students)
    env = grader_env({"MAX_JOBS": "1"})
    file = tmp_path / "scheduler.json"
    cli = [sys.executable, "-m", "dask"]
    started = [subprocess.Popen(cli + ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                       "--scheduler-file", str(file)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)]
    try:
        address = scheduler_address(file, started[0])
        started += [subprocess.Popen(cli + ["worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                                            "127.0.0.1", "--memory-limit", "0"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL) for _ in range(2)]
        # A CUDA batch is refused by a cluster none of whose workers owns a GPU, in one line, once they are up.
        cuda = tmp_path / "cuda.toml"
        cuda.write_text(ASSIGNMENT.read_text().replace('device = "cpu"', 'device = "cuda"').replace(
            'problem = "../add_problem.py"', f'problem = "{ASSIGNMENT.parent.parent / "add_problem.py"}"'))
        from distributed import Client
        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
        refused = run_grader("batch", str(cuda), str(subs), "--out", str(tmp_path / "cuda-out"), "--executor", "dask",
                             "--scheduler", address)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr[-2000:]
        assert "none of its 2 Dask worker(s) owns a GPU" in refused.stderr

        proc = subprocess.run(dask_argv(subs, out, "--scheduler", address), cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=1100)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        rows = exactly_one_result_each(out, students)
        assert {s: r["status"] for s, r in rows.items()} == {s: EXPECTED[s] for s in students}
    finally:
        for p in started:
            p.send_signal(signal.SIGINT)
        for p in started:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_slurm_job_script_asks_for_one_gpu_per_worker(tmp_path):
    config = tmp_path / "slurm.yaml"
    config.write_text("workers: 8\nqueue: gpu\naccount: cs101\njob_extra_directives: ['--constraint=h100']\n"
                      "job_script_prologue: ['source /opt/kg/bin/activate']\n")
    cluster = slurm_cluster(load_slurm_config(config), ExecutorSettings(jobs=2, device="cuda"))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    for line in ("#SBATCH -p gpu", "#SBATCH -A cs101", "#SBATCH --gres=gpu:1", "#SBATCH --constraint=h100",
                 "export NCCL_NVLS_ENABLE=0", "source /opt/kg/bin/activate"):
        assert line in lines, script
    worker = lines[-1]
    assert "distributed.cli.dask_worker" in worker and "--resources GPU=1" in worker, worker
    assert lines.index("export NCCL_NVLS_ENABLE=0") < len(lines) - 1
    cpu = slurm_cluster(load_slurm_config(config), ExecutorSettings(jobs=2, device="cpu"))
    try:
        assert "--gres" not in cpu.job_script() and "GPU=1" not in cpu.job_script()
    finally:
        cpu.close()


@pytest.mark.parametrize("text, fragment", [
    ("workers: 0\n", "workers: Input should be greater than or equal to 1"),
    ("queue: [gpu\n", "not valid YAML"),
    ("partition: gpu\n", "partition: Extra inputs are not permitted"),
])
def test_slurm_config_errors_are_one_line(tmp_path, text, fragment):
    config = tmp_path / "slurm.yaml"
    config.write_text(text)
    with pytest.raises(UsageError) as e:
        load_slurm_config(config)
    assert str(config) in str(e.value) and fragment in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("extra, fragment", [
    (["--executor", "dask"], "give either --scheduler"),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--cluster", "local:1"], "give either --scheduler"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler: only with --executor dask"),
    (["--executor", "dask", "--cluster", "local:1", "--gpus", "0"], "each Dask worker owns one GPU"),
    (["--executor", "dask", "--cluster", "kube:3"], "--cluster kube:3: give local:N"),
    (["--executor", "dask", "--cluster", "slurm:/nonexistent.yaml"], "/nonexistent.yaml: cannot read"),
])
def test_executor_options_are_checked_in_one_line(tmp_path, extra, fragment):
    subs = tmp_path / "subs"
    make_class(subs, ("grace",))
    proc = run_grader("batch", str(ASSIGNMENT), str(subs), "--out", str(tmp_path / "o"), *extra)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and fragment in proc.stderr, proc.stderr


def test_an_absent_scheduler_is_one_line(tmp_path):
    subs = tmp_path / "subs"
    make_class(subs, ("grace",))
    proc = run_grader("batch", str(ASSIGNMENT), str(subs), "--out", str(tmp_path / "o"), "--executor", "dask",
                      "--scheduler", "tcp://127.0.0.1:9", env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered" in proc.stderr


def test_local_cluster_gives_each_worker_one_gpu_and_multicast_off(monkeypatch):
    from distributed import Client

    from grader.batch.dask_clusters import local_cluster

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,6")
    with local_cluster(2, ExecutorSettings(jobs=2, device="cuda")) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        seen = client.run(lambda: (os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("NCCL_NVLS_ENABLE")))
        info = client.scheduler_info(n_workers=-1)["workers"].values()
    assert sorted(seen.values()) == [("3", "0"), ("5", "0")]
    assert [w["resources"] for w in info] == [{"GPU": 1}, {"GPU": 1}] and {w["nthreads"] for w in info} == {2}
    with pytest.raises(UsageError, match="shows 3"):
        local_cluster(4, ExecutorSettings(jobs=1, device="cuda"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_executor_runs_a_task_on_a_worker_and_forwards_its_progress(monkeypatch):
    from grader.batch.dask_executor import DaskExecutor
    from grader.batch.executors import Task
    from kgtest import FIXTURES

    for k, v in grader_env({"MAX_JOBS": "1"}).items():
        monkeypatch.setenv(k, v)
    req = GradeRequest(solution=str(FIXTURES / "class" / "add_minus.py"), problem=str(FIXTURES / "add_problem.py"),
                       device="cpu", sandbox="local", trials=2, max_timing_s=0.3, baseline_compile=False)
    events = []
    executor = DaskExecutor(ExecutorSettings(jobs=3, device="cpu", cluster="local:2"))
    try:
        executor.client.wait_for_workers(2, timeout=120)
        executor._counted_at = 0.0
        assert executor.capacity() == 6   # --jobs per worker
        result = executor.submit(Task(key="bob/add", request=req), lambda key, ev: events.append((key, ev))) \
            .result(timeout=500)
    finally:
        executor.shutdown()
    assert result.key == "bob/add" and result.report is not None, result
    assert result.report.status.value == "incorrect"
    phases = {ev.phase.value for key, ev in events if key == "bob/add"}
    assert {"compile", "correctness"} <= phases, events
