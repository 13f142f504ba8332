"""Kernel Grader: trustworthy verdicts on custom CUDA kernels for KernelBench-format problems.

The public API is `grade(GradeRequest, on_event) -> Report`; the CLI and the TUI both call it.
Kept import-light: the sandboxed worker imports this package too.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name in ("grade", "Cancelled"):
        from grader.judge import engine
        return getattr(engine, name)
    if name in ("GradeRequest", "Report", "ProgressEvent", "Status", "Phase", "Timeouts"):
        from . import models
        return getattr(models, name)
    raise AttributeError(name)
