"""A tiny sandbox worker for the backend tests: dials KG_CHANNEL, then answers one frame with one frame.

It knows nothing of grading; each request names an `op` that probes one thing a sandbox must
allow or refuse. Run as `python -m echo_worker` with this folder and the repository root on
the path (for grader.protocol.wire).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from grader.protocol.wire import Channel, ProtocolError

BOMB = """
import os, sys, time
while True:
    try:
        os.fork()
    except OSError:
        pass
    time.sleep(0.005)
"""

ORPHAN = """
import os, sys, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
print("up", flush=True)
time.sleep(3600)
"""


def _try(fn):
    try:
        return {"ok": True, "value": fn()}
    except Exception as e:  # the point is to report what failed, and how
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}


def interfaces() -> list[str]:
    return sorted(name for _i, name in socket.if_nameindex())


def connect(host: str, port: int, timeout: float) -> dict:
    # Never send a packet off this machine from a test: dial an outside address only where no
    # interface but loopback exists, where the attempt cannot leave the sandbox.
    if not host.startswith("127.") and interfaces() != ["lo"]:
        return {"ok": True, "value": "not tried: the worker has a network interface", "interfaces": interfaces()}

    def dial():
        with socket.create_connection((host, port), timeout=timeout) as s:
            return s.getpeername()[0]

    return _try(dial)


def write(path: str, data: bytes = b"x") -> dict:
    def do():
        with open(path, "wb") as f:
            f.write(data)
        return len(data)

    return _try(do)


def fill(path: str, total_mb: int) -> dict:
    def do():
        chunk = b"\xab" * (1 << 20)
        with open(path, "wb") as f:
            for _ in range(total_mb):
                f.write(chunk)
        return total_mb

    return _try(do)


def handle(req: dict) -> dict | None:
    op = req.get("op")
    if op == "echo":
        return {"op": "echo", "data": req.get("data")}
    if op == "whoami":
        return {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(), "pid": os.getpid(),
                "python": sys.executable, "interfaces": interfaces()}
    if op == "env":
        return {"env": dict(os.environ)}
    if op == "read":
        return _try(lambda: open(req["path"], "rb").read().decode())
    if op == "write":
        return write(req["path"], req.get("data", "x").encode())
    if op == "fill":
        return fill(req["path"], req["mb"])
    if op == "listdir":
        return _try(lambda: sorted(os.listdir(req["path"])))
    if op == "connect":
        return connect(req["host"], req["port"], req.get("timeout", 3.0))
    if op == "alloc":
        hoard = []
        for _ in range(req["mb"] // 16):
            hoard.append(b"\x01" * (16 << 20))  # written, so resident
            time.sleep(req.get("pause", 0.0))
        return {"allocated_mb": len(hoard) * 16}
    if op == "forkbomb":
        subprocess.Popen([sys.executable, "-c", BOMB, req["marker"]], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return {"started": True}
    if op == "orphan":
        # Answered once the grandchild has printed: before, a scan of /proc could fall between the middle
        # process's exit and the grandchild's first appearance with its command line.
        p = subprocess.Popen([sys.executable, "-c", ORPHAN, req["marker"]], stdout=subprocess.PIPE, text=True)
        up = p.stdout.readline().strip() == "up"
        p.stdout.close()
        return {"started": p.wait() == 0 and up}
    if op == "print":
        line = "y" * 1023 + "\n"
        for _ in range(req["kb"]):
            sys.stdout.write(line)
        sys.stdout.flush()
        return {"printed_kb": req["kb"]}
    if op == "sleep":
        time.sleep(req["s"])
        return {"slept": req["s"]}
    if op == "cuda":
        import torch
        ok = torch.cuda.is_available()
        return {"cuda": ok, "name": torch.cuda.get_device_name(0) if ok else None,
                "sum": float(torch.ones(1000, device="cuda").sum()) if ok else None}
    if op == "exec":  # a program the worker's own environment (PATH, CXX, ...) finds, as load_inline runs it
        def run():
            p = subprocess.run(req["argv"], capture_output=True, text=True, timeout=req.get("timeout", 120))
            return {"code": p.returncode, "output": (p.stdout + p.stderr)[-4000:]}
        return _try(run)
    if op == "exit":
        os._exit(req.get("code", 0))
    return {"error": f"unknown op {op!r}"}


def main() -> None:
    if os.environ.get("KG_ECHO_NO_CONNECT"):
        time.sleep(3600)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["KG_CHANNEL"])
    chan = Channel(sock)
    while True:
        try:
            req = chan.recv()
        except ProtocolError:
            return  # the host hung up
        chan.send(handle(req))


if __name__ == "__main__":
    main()
