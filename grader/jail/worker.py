"""The worker: runs one model (the reference or a candidate) inside a sandbox.

Nothing it says is trusted. It only ever hands back data: tensors it produced
and timings it measured. The trusted grader compares the tensors itself and
cross-checks the timings with its own clock.

Started as `python -m grader.jail.worker`; talks over the channel named by KG_CHANNEL
with the messages of grader/protocol/messages.py, and hands outputs over as CUDA VMM
handles (when the engine asks and the GPU allows) or as files in KG_EXCHANGE.
"""

from __future__ import annotations

import os
import socket
import sys


def _connect():
    # First thing, before any code of the solution can run: connect, then move the
    # socket to an unremarkable high descriptor so a solution writing garbage to
    # low descriptors (0..63) cannot reach it by accident.
    from grader.protocol.wire import Channel

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
        from pydantic import ValidationError

        from grader.jail import timing
        from grader.jail.runner import ModelRunner, WorkerError
        from grader.protocol import messages as m
    except Exception as e:  # a broken install, not the solution's fault
        chan.send({"ok": False, "error": "worker_error", "message": f"worker cannot start: {e}"})
        return 1

    runner = None

    def next_command():
        raw = chan.recv()
        if runner is not None:
            runner.release()  # the engine sends nothing before it has taken over the last outputs
        return m.COMMAND.validate_python(raw)

    def send_outputs(outs, tag, **fields):
        descs, fds = runner.hand_over(outs, exchange, tag)
        try:
            chan.send(fields.pop("reply", m.Outputs)(outputs=descs, **fields), fds)
        finally:
            for fd in fds:
                os.close(fd)

    while True:
        try:
            msg = next_command()
        except ValidationError as e:
            chan.send(m.Failure(error="worker_error", message=f"bad command: {e.errors()[0]['msg']}"))
            continue
        try:
            if isinstance(msg, m.Load):
                if msg.role == "candidate":  # its load_inline builds through the grader's cache
                    from grader.jail import build_shim
                    build_shim.install(chan, str(exchange))
                runner = ModelRunner.load(msg)
                chan.send(m.Loaded(info=m.WorkerInfo(**runner.info())))
            elif isinstance(msg, m.Run):
                outs, in_bytes = runner.run(msg.seed, msg.poison)
                send_outputs(outs, msg.tag, input_bytes=in_bytes)
            elif isinstance(msg, m.Time):
                def progress(runs, median, rel):
                    chan.send(m.Progress(runs=runs, median_ms=median, rel_sem=rel))

                stats, out, idx = runner.time(msg, progress, timing.bench)
                send_outputs(out, msg.tag, reply=m.Timed, stats=stats, last_set=idx)
            elif isinstance(msg, m.Window):  # the trusted side's clock runs from Go until the checksum is back
                go = runner.prepare_window(msg)
                chan.send(m.Ready())
                order = next_command()
                if not isinstance(order, m.Go):
                    return 1
                go(order.seeds)
                chan.send(m.Done())
            elif isinstance(msg, m.Checksum):
                chan.send(m.Sums(sums=runner.checksum(msg.seed, msg.abs)))
            elif isinstance(msg, m.Float64):  # the precision audit's reference run; sent to the reference only
                from grader.jail.float64 import float64_outputs

                send_outputs(float64_outputs(runner, msg.seed, msg.bits, msg.budget_bytes), msg.tag)
            elif isinstance(msg, m.Profile):
                chan.send(m.Profiled(names=runner.profile(msg.seed)))
            elif isinstance(msg, m.NcuRange):
                runner.profiled_call(msg.seed)
                chan.send(m.Done())
            elif isinstance(msg, m.Exit):
                return 0
            else:
                chan.send(m.Failure(error="worker_error", message=f"unexpected command {msg.cmd!r}"))
        except WorkerError as e:
            chan.send(m.Failure(error=e.kind, message=str(e), detail=e.detail))
        except Exception as e:
            tb = traceback.format_exc(limit=-8)
            # Out of memory (host, or the GPU cap set at load) is a resource verdict, not a crash.
            kind = "resource_limit" if type(e).__name__ in ("OutOfMemoryError", "MemoryError") else "runtime_error"
            chan.send(m.Failure(error=kind, message=f"{type(e).__name__}: {e}"[:2000], detail=tb[-8000:]))
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
