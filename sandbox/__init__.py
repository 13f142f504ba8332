"""Isolated workers for untrusted code. Knows nothing of kernels or grading."""

from __future__ import annotations

from .base import Limits, Sandbox, SandboxError, Worker, WorkerSpec
from .docker_backend import DockerSandbox
from .local import LocalSandbox

BACKENDS: dict[str, type[Sandbox]] = {"local": LocalSandbox, "docker": DockerSandbox}


def open_sandbox(kind: str = "auto") -> Sandbox:
    """'local', 'docker', or 'auto': Docker when its engine and image are there, else local."""
    if kind == "auto":
        for name in ("docker", "local"):
            cls = BACKENDS.get(name)
            if cls and cls.available()[0]:
                return cls()
    cls = BACKENDS.get(kind)
    if cls is None:
        raise SandboxError(f"unknown sandbox backend {kind!r}; choose auto, local or docker")
    ok, why = cls.available()
    if not ok:
        raise SandboxError(why)
    return cls()


__all__ = ["Limits", "Sandbox", "SandboxError", "Worker", "WorkerSpec", "open_sandbox", "BACKENDS"]
