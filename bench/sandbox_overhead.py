"""What a sandbox costs per worker: start -> connect -> one echo -> close, local vs docker.

    python bench/sandbox_overhead.py [--runs 20] [--backends local,docker]

Uses the test echo worker (tests/sandbox/echo_worker.py), which imports nothing heavy, so the
figures are the sandbox's own overhead, not torch's import. "total" is start + first echo + close (the later echoes
are timed apart, as the channel's steady speed). "cold" is the first worker of a fresh
process (for docker: the engine ping, image lookup and stale-container sweep of the first
DockerSandbox() included); "warm" are the medians of the following runs. For docker it also splits
a warm start into create / start / python-to-connect, which is what a pool of pre-created or
pre-started containers could save.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from grader.protocol.wire import Channel  # noqa: E402
from sandbox import BACKENDS, WorkerSpec  # noqa: E402

SPEC = WorkerSpec(module="echo_worker", pythonpath=[str(REPO / "tests" / "sandbox"), str(REPO)])


def one(sb) -> dict[str, float]:
    t0 = time.perf_counter()
    w = sb.start(SPEC)
    t1 = time.perf_counter()
    ch = Channel(w.channel)
    ch.send({"op": "echo", "data": "x"})
    ch.recv(timeout=30)
    t2 = time.perf_counter()
    for _ in range(100):
        ch.send({"op": "echo", "data": "x"})
        ch.recv(timeout=30)
    t3 = time.perf_counter()
    w.close()
    t4 = time.perf_counter()
    return {"start+connect": t1 - t0, "echo": t2 - t1, "echo100": (t3 - t2) / 100, "close": t4 - t3,
            "total": (t2 - t0) + (t4 - t3)}


def docker_split(sb, runs: int) -> dict[str, float]:
    """Where a warm docker start goes: create, start, then the worker's python until it dials."""
    import docker

    parts: dict[str, list[float]] = {"create": [], "start": [], "python+connect": [], "kill+remove": []}
    for _ in range(runs):
        root, uid = sb._folders()
        from sandbox.common import listen, remove_tree
        from sandbox.docker.config import container_config
        listener = listen(root / "chan" / "chan.sock")
        (root / "chan" / "chan.sock").chmod(0o666)
        config, _paths = container_config(sb.image, sb.python, sb.host_toolchain, SPEC, root, uid)
        t0 = time.perf_counter()
        c = sb.client.containers.create(**config)
        t1 = time.perf_counter()
        c.start()
        t2 = time.perf_counter()
        listener.settimeout(30)
        conn, _ = listener.accept()
        t3 = time.perf_counter()
        conn.close()
        listener.close()
        try:
            c.remove(force=True)
        except docker.errors.APIError:
            pass
        t4 = time.perf_counter()
        remove_tree(root)
        for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[k].append(v)
    return {k: statistics.median(v) for k, v in parts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--backends", default="local,docker")
    args = ap.parse_args()

    rows = []
    split = None
    for name in args.backends.split(","):
        ok, why = BACKENDS[name].available()
        if not ok:
            print(f"{name}: unavailable: {why}")
            continue
        t = time.perf_counter()
        sb = BACKENDS[name]()
        init = time.perf_counter() - t
        cold = one(sb)
        cold["start+connect"] += init
        cold["total"] += init
        warm = [one(sb) for _ in range(args.runs)]
        rows.append((name, "cold", cold))
        rows.append((name, f"warm (median of {args.runs})", {k: statistics.median(r[k] for r in warm) for k in cold}))
        if name == "docker":
            split = docker_split(sb, max(5, args.runs // 2))

    print(f"machine: {platform.node()} {platform.machine()}, {platform.system()} {platform.release()}, "
          f"python {platform.python_version()}")
    if any(r[0] == "docker" for r in rows):
        import docker
        v = docker.from_env().version()
        print(f"docker engine {v.get('Version')} (API {v.get('ApiVersion')}), image {BACKENDS['docker']().image}")
    print()
    print("| backend | run | start+connect ms | first echo ms | later echoes ms | close ms | total ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, run, r in rows:
        print(f"| {name} | {run} | {r['start+connect'] * 1e3:.1f} | {r['echo'] * 1e3:.2f} | "
              f"{r['echo100'] * 1e3:.3f} | {r['close'] * 1e3:.1f} | {r['total'] * 1e3:.1f} |")
    if split:
        print()
        print("docker warm start, split (medians):",
              ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in split.items()))


if __name__ == "__main__":
    main()
