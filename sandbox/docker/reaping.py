"""Containers left behind: a grader that died leaves its containers (labelled with its host, pid and start
time) for the next one to remove; one that exits normally closes its own."""

from __future__ import annotations

import atexit
import socket
import weakref
from pathlib import Path

import psutil

from ..common import remove_tree
from .config import LABEL, LABEL_HOST, LABEL_PID, LABEL_ROOT, LABEL_START, ROOT_PREFIX, docker


def _owner_alive(labels: dict[str, str]) -> bool:
    try:
        proc = psutil.Process(int(labels.get(LABEL_PID, "0")))
        return abs(proc.create_time() - float(labels.get(LABEL_START, "0"))) < 1.0
    except (psutil.Error, ValueError):
        return False


def reap_stale(client) -> list[str]:
    """Remove this host's sandbox containers (and their folders) whose grader process is gone."""
    removed: list[str] = []
    host = socket.gethostname()
    try:
        stale = client.containers.list(all=True, filters={"label": LABEL})
    except docker.errors.DockerException:
        return removed
    for c in stale:
        labels = c.labels or {}
        if labels.get(LABEL_HOST) != host or _owner_alive(labels):
            continue
        try:
            c.remove(force=True, v=True)
            removed.append(c.id)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            continue
        root = labels.get(LABEL_ROOT, "")
        if root and Path(root).name.startswith(ROOT_PREFIX):
            remove_tree(Path(root))
    return removed


_sandboxes: weakref.WeakSet = weakref.WeakSet()  # of DockerSandbox


def track(sb) -> None:
    _sandboxes.add(sb)


@atexit.register
def _close_everything() -> None:  # a grader that exits normally leaves nothing behind
    for sb in list(_sandboxes):
        try:
            sb.close_all()
        except Exception:
            pass
