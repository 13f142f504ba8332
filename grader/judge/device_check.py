"""Refuse, before anything compiles, a CUDA grading on a machine without a CUDA GPU, saying how to grade it
elsewhere (the TUI's device choice says the same in its own words)."""

from __future__ import annotations

from pathlib import Path

from grader.errors import UsageError

from .compile_map import find_extensions


def no_gpu_reason() -> str | None:
    """Why CUDA cannot run here, or None when it can."""
    import torch

    if torch.cuda.is_available():
        return None
    return f"torch {torch.__version__} has no CUDA" if not torch.version.cuda else "torch sees no CUDA GPU"


def check(device: str, solution: Path) -> None:
    """UsageError when `device` is cuda, or the solution builds CUDA sources, and no GPU is here."""
    why = None
    if device == "cuda":
        why = no_gpu_reason()
        if why:
            raise UsageError(f"--device cuda: this machine has no CUDA GPU ({why}); grade {solution.name} on a "
                             "machine with an NVIDIA GPU, or here with --device cpu if its ModelNew runs on the CPU "
                             "(kernel-tui's ctrl+t compile-checks CUDA code without a GPU)")
        return
    try:
        text = solution.read_text()
    except (OSError, UnicodeDecodeError):
        return
    cuda = [e for e in find_extensions(text) if e.cuda_text or "cuda_sources= is computed" in " ".join(e.problems)]
    if cuda and (why := no_gpu_reason()):
        raise UsageError(f"{solution.name}:{cuda[0].call_line}: builds CUDA code (cuda_sources) and this machine has "
                         f"no CUDA GPU ({why}); grade it on a machine with an NVIDIA GPU (--device cuda there); "
                         "kernel-tui's ctrl+t compile-checks it here")
