"""Isolated workers for untrusted code. Knows nothing of kernels or grading."""

from __future__ import annotations

from .base import Limits, Sandbox, SandboxError, Worker, WorkerSpec
from .docker import DockerSandbox
from .local import LocalSandbox

# The registry of providers, each named once (by its class's `name`): the CLI's and the TUI's choices and
# GradeRequest's validation read it. In the order 'auto' tries them: the stronger isolation first.
BACKENDS: dict[str, type[Sandbox]] = {cls.name: cls for cls in (DockerSandbox, LocalSandbox)}
CHOICES: list[str] = ["auto", *BACKENDS]


def open_sandbox(kind: str = "auto") -> Sandbox:
    """A provider of BACKENDS by name, or 'auto': the first that is available (Docker when its engine and
    image are there, else local)."""
    if kind == "auto":
        for cls in BACKENDS.values():
            if cls.available()[0]:
                return cls()
    if kind not in BACKENDS:
        raise SandboxError(f"unknown sandbox backend {kind!r}; choose {', '.join(CHOICES)}")
    cls = BACKENDS[kind]
    ok, why = cls.available()
    if not ok:
        raise SandboxError(why)
    return cls()


__all__ = ["Limits", "Sandbox", "SandboxError", "Worker", "WorkerSpec", "open_sandbox", "BACKENDS", "CHOICES"]
