"""Escape and exfiltration: secrets, files, network and the grader's own processes stay out of reach.

Each hostile solution prints what it got hold of; the worker's log is part of the report, so a
secret it reached would show up in the CLI's output. Each also prints EXFIL-RAN, to prove it ran.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from pathlib import Path

import pytest

from adv_helpers import ADD, ROOT, explain, grade, render
from sandbox.local import isolation, namespaces_available


def _secret() -> str:
    return f"kg-secret-{uuid.uuid4().hex}"


def _leaks(proc, secret: str) -> bool:
    return secret in proc.stdout or secret in proc.stderr


def test_environment_secrets_stay_out_of_the_worker():
    secret = _secret()
    env = {"KG_FAKE_SECRET": secret, "AWS_SECRET_ACCESS_KEY": secret, "GITHUB_TOKEN": secret}
    proc, report = grade(Path(__file__).parent / "solutions" / "steal_secrets.py", env=env)
    assert "EXFIL-RAN" in report["worker_log"], "the hostile code did not run (test is moot)"
    assert not _leaks(proc, secret), "a secret from the grader's environment reached the report"
    assert report["status"] == "passed", explain(report)


@pytest.mark.skipif(isolation() != "bwrap", reason="only the bwrap jail hides the file system (see docs/security.md)")
def test_files_beside_the_problem_home_and_other_gradings_stay_hidden(tmp_path):
    secret = _secret()
    problem_dir = tmp_path / "course"
    problem_dir.mkdir()
    problem = problem_dir / "add_problem.py"
    shutil.copy(ADD, problem)
    (problem_dir / "hidden_tests.py").write_text(f"SECRET = {secret!r}\n")
    (problem_dir / "reference_solution.py").write_text(f"# {secret}\n")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(secret)
    other = Path("/dev/shm") / f"kgrader-advfake-{uuid.uuid4().hex}"
    (other / "xchg").mkdir(parents=True)
    (other / "xchg" / "c1-0.0").write_text(secret)
    (other / "submission.py").write_text(f"# another student's solution {secret}\n")
    escape = [str(tmp_path / "escaped.txt"), str(problem_dir / "escaped.txt"), f"/tmp/kg-escape-{uuid.uuid4().hex}",
              f"/dev/shm/kg-escape-{uuid.uuid4().hex}", str(ROOT / "grader" / f"kg-escape-{uuid.uuid4().hex}.py")]
    targets = [str(problem_dir), str(home), str(other), str(tmp_path)]
    solution = render("steal_files.py", tmp_path, TARGETS=repr(targets), ESCAPE=repr(escape))
    try:
        proc, report = grade(solution, problem=problem, env={"HOME": str(home)})
    finally:
        shutil.rmtree(other, ignore_errors=True)
        leaked = [p for p in escape if os.path.exists(p)]
        for p in leaked:
            os.unlink(p)
    assert "EXFIL-RAN" in report["worker_log"], "the hostile code did not run (test is moot)"
    assert not _leaks(proc, secret), "a hidden file reached the report"
    assert not leaked, f"the worker wrote outside its folders: {leaked}"
    assert report["status"] == "passed", explain(report)


@pytest.mark.skipif(not namespaces_available(), reason="no network namespace on this machine")
def test_no_network_to_host_loopback_or_host_unix_sockets(tmp_path):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    unix_path = str(tmp_path / "exfil.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(unix_path)
    unix.listen(4)
    got: list[bytes] = []
    stop = threading.Event()

    def serve(server):
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                got.append(conn.recv(100) or b"(connected)")
            except OSError:
                pass

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in (tcp, unix)]
    for t in threads:
        t.start()
    try:
        solution = render("network.py", tmp_path, PORT=tcp.getsockname()[1], UNIX=unix_path)
        proc, report = grade(solution)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=2)
        tcp.close()
        unix.close()
    assert "EXFIL-RAN" in report["worker_log"], "the hostile code did not run (test is moot)"
    assert "reached: []" in report["worker_log"], report["worker_log"][-1500:]
    assert not got, f"the worker reached a host socket: {got}"
    assert report["status"] == "passed", explain(report)


@pytest.mark.skipif(not namespaces_available(),
                    reason="without a PID namespace this solution would kill every grader on the machine")
def test_killing_the_parent_and_the_grader_fails_and_the_grader_reports(tmp_path):
    marker = f"kgkill-{uuid.uuid4().hex}"
    solution = render("kill_parent.py", tmp_path / "", MARKER=marker, KILL_ALL=True)
    renamed = solution.with_name(f"{marker}.py")
    solution.rename(renamed)
    proc, report = grade(renamed)
    # The grader lived to print its report; the worker may have killed its own process group (its
    # parent's, as it sees it), which is then its own runtime error.
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "EXFIL-RAN" in report["worker_log"], "the hostile code did not run (test is moot)"
    assert report["status"] in ("passed", "runtime_error"), explain(report)
