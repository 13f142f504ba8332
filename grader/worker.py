"""The worker: runs one model (the reference or a candidate) inside a sandbox.

Nothing it says is trusted. It only ever hands back data: tensors it produced
and timings it measured. The trusted grader compares the tensors itself and
cross-checks the timings with its own clock.

Started as `python -m grader.worker`; talks over the channel named by KG_CHANNEL
and writes tensors into KG_EXCHANGE.
"""

from __future__ import annotations

import os
import socket
import sys


def _connect():
    # First thing, before any code of the solution can run: connect, then move the
    # socket to an unremarkable high descriptor so a solution writing garbage to
    # low descriptors (0..63) cannot reach it by accident.
    from grader.protocol import Channel

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["KG_CHANNEL"])
    high = 200 + int.from_bytes(os.urandom(2), "little") % 700
    try:
        fd = os.dup2(sock.fileno(), high, inheritable=False)
        sock.close()
        sock = socket.socket(fileno=fd)
    except OSError:
        pass
    return Channel(sock)


def main() -> int:
    chan = _connect()
    from pathlib import Path

    exchange = Path(os.environ["KG_EXCHANGE"])
    import traceback

    try:
        from grader import timing
        from grader.runner import ModelRunner, WorkerError
    except Exception as e:  # a broken install, not the solution's fault
        chan.send({"ok": False, "error": "worker_error", "message": f"worker cannot start: {e}"})
        return 1

    runner = None
    while True:
        msg = chan.recv()
        cmd = msg.get("cmd")
        try:
            if cmd == "load":
                if msg.get("role") == "candidate":  # its load_inline builds through the grader's cache
                    from grader import build_shim
                    build_shim.install(chan, str(exchange))
                runner = ModelRunner.load(msg)
                chan.send({"ok": True, "info": runner.info()})
            elif cmd == "run":
                outs = runner.run(msg["seed"], msg.get("poison", []))
                chan.send({"ok": True, "outputs": runner.write_outputs(outs, exchange, msg["tag"])})
            elif cmd == "time":
                def progress(runs, mean, rel):
                    chan.send({"progress": True, "runs": runs, "mean_ms": mean, "rel_sem": rel})

                stats, out, idx = runner.time(msg, progress, timing.bench)
                chan.send({"ok": True, "stats": stats, "last_set": idx,
                           "outputs": runner.write_outputs(out, exchange, msg["tag"])})
            elif cmd == "guard":
                ready = runner.prepare_guard(msg)
                chan.send({"ok": True, "ready": True})
                go = chan.recv()
                if go.get("cmd") != "go":
                    return 1
                out, idx = ready()
                chan.send({"ok": True, "last_set": idx,
                           "outputs": runner.write_outputs(out, exchange, msg["tag"])})
            elif cmd == "probe":  # a guard of one run, whose output is only sampled
                go = runner.prepare_guard(msg)
                chan.send({"ok": True, "ready": True})
                if chan.recv().get("cmd") != "go":
                    return 1
                out, _ = go()
                chan.send({"ok": True, "done": True})
                ask = chan.recv()
                if ask.get("cmd") != "sample":
                    return 1
                picked = runner.sample(out, int(ask["seed"]), int(ask["k"]))
                chan.send({"ok": True, "outputs": runner.write_outputs(picked, exchange, msg["tag"])})
            elif cmd == "profile":
                chan.send({"ok": True, "names": runner.profile(msg["seed"])})
            elif cmd == "exit":
                return 0
            else:
                chan.send({"ok": False, "error": "worker_error", "message": f"unknown command {cmd!r}"})
        except WorkerError as e:
            chan.send({"ok": False, "error": e.kind, "message": str(e), "detail": e.detail})
        except Exception as e:
            tb = traceback.format_exc(limit=-8)
            # Out of memory (host, or the GPU cap set at load) is a resource verdict, not a crash.
            kind = "resource_limit" if type(e).__name__ in ("OutOfMemoryError", "MemoryError") else "runtime_error"
            chan.send({"ok": False, "error": kind, "message": f"{type(e).__name__}: {e}"[:2000],
                       "detail": tb[-8000:]})
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
