"""The kernel languages a solution may be written in, named once: CUDA/C++ through load_inline, Triton, CuTe DSL.

Everything that depends on the language asks here: `grader new --backend` and `grader prompt --backend`
(starter and worked example), the worker's compile phase (which exceptions of a first call are compile
errors, the caches and variables each JIT gets), the report's `backend` and the TUI's label. The backend of a
solution is read from its imports (never from what it claims or does when run); a solution that imports none
of these is plain PyTorch and counts as `cuda`, the default language.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import UsageError


@dataclass(frozen=True)
class Backend:
    name: str                      # what --backend takes and the report says
    label: str                     # how people call it
    modules: tuple[str, ...]       # an import of one of these (or below it) marks a solution as this backend
    # exception classes (module prefix, class name) a JIT raises at a first call when the kernel does not
    # compile: a compile error, not a crash
    compile_errors: tuple[tuple[str, str], ...] = ()
    cpu: bool = False              # can run in a CPU grading
    cpu_env: dict[str, str] = field(default_factory=dict)  # what it needs to run on CPU tensors


CUDA = Backend("cuda", "CUDA", ("torch.utils.cpp_extension",), cpu=True)
TRITON = Backend("triton", "Triton", ("triton",),
                 compile_errors=(("triton", "CompilationError"), ("triton", "OutOfResources"),
                                 ("triton", "PTXASError")),
                 cpu=True, cpu_env={"TRITON_INTERPRET": "1"})
CUTE = Backend("cute", "CuTe DSL", ("cutlass",),
               compile_errors=(("cutlass", "DSLUserCodeError"), ("cutlass", "CompilerDiagnosticError")))

BACKENDS: dict[str, Backend] = {b.name: b for b in (CUDA, TRITON, CUTE)}
NAMES = tuple(BACKENDS)


def get(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise UsageError(f"--backend {name}: unknown kernel language; choose one of {', '.join(NAMES)}") from None


def _imports(tree: ast.AST) -> list[str]:
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return out


def detect_source(text: str) -> Backend:
    """The backend a solution's source is written for: CuTe DSL over Triton over load_inline (a CuTe or Triton
    solution may still load_inline a helper), else the default, cuda. Unparsable text is cuda too."""
    try:
        names = _imports(ast.parse(text))
    except (SyntaxError, ValueError):
        return CUDA
    for backend in (CUTE, TRITON, CUDA):
        if any(n == m or n.startswith(m + ".") for n in names for m in backend.modules):
            return backend
    return CUDA


def detect(path: str | Path) -> Backend:
    try:
        return detect_source(Path(path).read_text())
    except (OSError, UnicodeDecodeError):
        return CUDA


def label(backend: Backend, device: str) -> str:
    """What the TUI and the CLI call a solution's language on a device (load_inline builds C++ on the CPU)."""
    if backend is CUDA and device == "cpu":
        return "C++"
    if backend is TRITON and device == "cpu":
        return "Triton interpreter"
    return backend.label


def is_compile_error(exc: BaseException) -> bool:
    """Whether an exception of a first call is a JIT's refusal to compile the kernel (any backend)."""
    for cls in type(exc).__mro__:
        module = cls.__module__ or ""
        for backend in BACKENDS.values():
            if any(module.split(".")[0] == pkg and cls.__name__ == name for pkg, name in backend.compile_errors):
                return True
    return False


def compile_error_line(exc: BaseException) -> str:
    """One line for a JIT's compile error: what went wrong (a Triton error's last line) and where (its first,
    `at LINE:COL:` within the kernel), e.g. `CompilationError: NameError('foo is not defined') (at 2:8 of the
    kernel)`."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [""]
    where = f" ({lines[0].rstrip(':')} of the kernel)" if len(lines) > 1 and lines[0].startswith("at ") else ""
    return f"{type(exc).__name__}: {lines[-1]}{where}"[:500]


JIT_FOLDER = "kg-jit"  # the reference's JIT caches, in its exchange folder (grader/judge/baseline_cache.py)


def worker_env(home: str, cpu: bool, jit: str | None = None) -> dict[str, str]:
    """Variables a worker sets before anything is imported: every JIT cache in its private folder (deleted with
    it, so nothing a candidate compiles is found by the next grading), and what lets a backend run on CPU tensors
    (`cpu`: the candidate of a CPU grading). `jit`: the reference's folder for torch.compile's caches, which the
    grader fills from and keeps for the next grading of the same problem."""
    env = {"TRITON_HOME": home, "TRITON_CACHE_DIR": os.path.join(jit or home, ".triton", "cache"),
           "TRITON_DUMP_DIR": os.path.join(home, ".triton", "dump"),
           "CUTE_DSL_CACHE_DIR": os.path.join(home, ".cute_dsl", "cache")}
    if jit:
        env["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(jit, "inductor")
    if cpu:
        for backend in BACKENDS.values():
            env.update(backend.cpu_env)
    return env
