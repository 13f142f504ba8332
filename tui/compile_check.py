"""Compile-only check: build a solution's inline C++/CUDA without importing or running the solution.

The solution's `load_inline` calls are read from its AST (grader.judge.compile_map); the sources are written out
as `main.cpp` / `cuda.cu` exactly as torch's load_inline writes them, and compiled with the flags it
uses (`c++ -fsyntax-only` for C++, `nvcc -c` for CUDA, so device code goes through ptxas too). No
Python of the solution ever runs, so this works on a machine without a GPU.

First it asks the gradings' compile cache (grader/judge/compile_cache.py): when every extension's arguments are
literals and a grading already built exactly that binary with the same toolchain, the answer is
"compiles (cached)" at once, without running a compiler.

The compilers run in a child process (`python -m tui.compile_check DIR`) in its own session, so a
cancel kills the whole process group.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader.judge.compile_map import Diagnostic, diagnostics, find_extensions

DEFAULT_CUDA_ARCH = "9.0"   # the H100 that grades; TORCH_CUDA_ARCH_LIST overrides


@dataclass
class CheckResult:
    ok: bool
    message: str
    log: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cancelled: bool = False


def prepare(source: str, folder: Path) -> tuple[list[dict], list[str]]:
    """Write each extension's files under folder/NAME/; return (specs, reasons some parts are not checked)."""
    specs, notes = [], []
    exts = find_extensions(source)
    for i, ext in enumerate(exts):
        name = ext.name or f"ext{i}"
        notes += [f"{name}: {p}" for p in ext.problems]
        main_cpp = ext.cpp_file
        if main_cpp is None:
            continue
        d = folder / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "main.cpp").write_text(main_cpp)
        spec = {"name": name, "dir": str(d), "main": str(d / "main.cpp"), "cuda": None,
                "extra_cflags": _strs(ext.literal_args.get("extra_cflags")),
                "extra_cuda_cflags": _strs(ext.literal_args.get("extra_cuda_cflags")),
                "extra_include_paths": _strs(ext.literal_args.get("extra_include_paths")),
                "with_cuda": ext.literal_args.get("with_cuda")}
        cu = ext.cuda_file
        if cu is not None:
            (d / "cuda.cu").write_text(cu)
            spec["cuda"] = str(d / "cuda.cu")
        specs.append(spec)
    return specs, notes


def build_requests(source: str) -> list | None:
    """The build requests a grading's load_inline shim would send, when every argument is a literal; else None."""
    from grader.judge.compile_cache import BuildRequest

    exts = find_extensions(source)
    if not exts:
        return None
    out = []
    for ext in exts:
        if ext.problems or ext.name is None or ext.cpp_text is None or ext.cuda_text is None:
            return None
        fns = ext.functions
        args = {k: ext.literal_args[k] for k in ("with_cuda", "with_pytorch_error_handling", "no_implicit_headers")
                if k in ext.literal_args}
        try:
            out.append(BuildRequest(name=ext.name, cpp_sources=list(ext.cpp_text), cuda_sources=list(ext.cuda_text),
                                    functions=[fns] if isinstance(fns, str) else fns,
                                    **{k: _strs(ext.literal_args.get(k)) for k in
                                       ("extra_cflags", "extra_cuda_cflags", "extra_ldflags", "extra_include_paths")},
                                    **args))
        except ValueError:
            return None
    return out


def all_cached(source: str, sandbox_kind: str) -> bool:
    """Whether a grading in this sandbox would load every extension of `source` from the compile cache."""
    import sandbox
    from grader.judge import compile_cache as cc

    requests = build_requests(source)
    if not requests:
        return False
    try:
        box = sandbox.open_sandbox(sandbox_kind)
    except sandbox.SandboxError:
        return False
    cache, tools = cc.for_sandbox(box), cc.toolchain(box, cc.device_arch())
    return all(cache.get(cc.cache_key(r, tools)) is not None for r in requests)


def _strs(v) -> list[str]:
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v] if isinstance(v, (list, tuple)) else []


class CompileCheck:
    """One check; `run()` blocks (call it from a worker thread), `cancel()` from anywhere."""

    def __init__(self, source: str, solution_name: str = "solution.py", timeout_s: float = 600,
                 sandbox: str = "auto"):
        self.source = source
        self.sandbox = sandbox
        self.solution_name = solution_name
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen | None = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def run(self, on_line=None) -> CheckResult:
        try:
            compile(self.source, self.solution_name, "exec")
        except SyntaxError as e:
            d = Diagnostic("error", f"syntax error: {e.msg}", self.solution_name, e.lineno or 1, e.offset)
            d.editor_line, d.editor_col = e.lineno, e.offset
            return CheckResult(False, f"line {e.lineno}: syntax error: {e.msg}", diagnostics=[d])
        if all_cached(self.source, self.sandbox):
            return CheckResult(True, "compiles (cached)", log="every extension is in the compile cache")
        with tempfile.TemporaryDirectory(prefix="kernel-tui-check-") as tmp:
            specs, notes = prepare(self.source, Path(tmp))
            if not specs:
                why = "; ".join(notes) if notes else "no load_inline call with literal sources"
                return CheckResult(True, f"nothing to compile: {why}", log="\n".join(notes))
            (Path(tmp) / "spec.json").write_text(json.dumps(specs))
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
            with self._lock:
                if self._cancelled.is_set():
                    return CheckResult(False, "cancelled", cancelled=True)
                self._proc = subprocess.Popen([sys.executable, "-m", "tui.compile_check", tmp], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                              start_new_session=True, stdin=subprocess.DEVNULL)
            lines = []
            timer = threading.Timer(self.timeout_s, self.cancel)
            timer.start()
            try:
                assert self._proc.stdout is not None
                for line in self._proc.stdout:
                    lines.append(line)
                    if on_line:
                        on_line(line.rstrip("\n"))
                code = self._proc.wait()
            finally:
                timer.cancel()
                self.cancel() if self._proc.poll() is None else None
            log = "".join(lines)
            if notes:
                log += "\n" + "\n".join(f"not checked: {n}" for n in notes)
            if self._cancelled.is_set() and code != 0:
                return CheckResult(False, "cancelled", log=log, cancelled=True)
            diags = diagnostics(log, self.source, self.solution_name)
            if code == 0:
                warn = sum(d.severity == "warning" for d in diags)
                msg = "compiles" + (f" ({warn} warnings)" if warn else "")
                if notes:
                    msg += "; not checked: " + "; ".join(notes)
                return CheckResult(True, msg, log=log, diagnostics=diags)
            errors = [d for d in diags if d.severity == "error"]
            first = errors[0] if errors else None
            msg = (f"{first.where()}: {first.message}" if first else
                   f"compiler failed (exit {code}); see the log")
            return CheckResult(False, msg, log=log, diagnostics=diags)


# ---------------------------------------------------------------- the child process

# Headers that CUDA builds of torch generate and CPU wheels leave out; the c10/cuda headers include them.
GENERATED_HEADERS = {
    "c10/cuda/impl/cuda_cmake_macros.h": "#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n",
}


def _header_shims(folder: Path, torch_includes: list[str]) -> str | None:
    """A folder with the generated headers this torch lacks (a CPU wheel), so CUDA sources still compile."""
    missing = {rel: text for rel, text in GENERATED_HEADERS.items()
               if not any(os.path.exists(os.path.join(inc, rel)) for inc in torch_includes)}
    if not missing:
        return None
    root = folder / "_shim"
    for rel, text in missing.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return str(root)


def _cuda_home(torch_says: str | None) -> str | None:
    """CUDA's install root. A CPU build of torch reports none, though nvcc may well be installed."""
    cands = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), torch_says, "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        cands.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "include", "cuda_runtime.h")) and \
                os.path.exists(os.path.join(c, "bin", "nvcc")):
            return c
    return None


def _child(folder: str) -> int:
    import sysconfig

    from torch.utils import cpp_extension as ce

    specs = json.loads((Path(folder) / "spec.json").read_text())
    cxx = os.environ.get("CXX", "c++")
    py_inc = sysconfig.get_paths()["include"]
    status = 0
    cuda_home = _cuda_home(ce.CUDA_HOME)
    shim = _header_shims(Path(folder), ce.include_paths("cpu"))
    for s in specs:
        with_cuda = s["with_cuda"] if s["with_cuda"] is not None else bool(s["cuda"])
        incs = ce.include_paths("cpu") + s["extra_include_paths"] + [py_inc]
        if with_cuda and cuda_home:
            incs.append(os.path.join(cuda_home, "include"))
        if with_cuda and shim:
            incs.append(shim)
        common = [f"-DTORCH_EXTENSION_NAME={s['name']}", "-DTORCH_API_INCLUDE_EXTENSION_H"]
        common += [x for p in incs for x in ("-isystem", p)]
        cmds = [[cxx, *common, "-fPIC", "-std=c++20", *s["extra_cflags"], "-fsyntax-only", s["main"]]]
        if s["cuda"]:
            nvcc = (os.path.join(cuda_home, "bin", "nvcc") if cuda_home else None) or shutil.which("nvcc")
            if not nvcc or not os.path.exists(nvcc):
                print(f"{s['name']}: nvcc not found: cuda.cu not checked (set CUDA_HOME)", flush=True)
                status = status or 3
            else:
                arch = os.environ.get("TORCH_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCH).split(";")[0].split()[0]
                arch = arch.replace("+PTX", "").replace(".", "")
                cmds.append([nvcc, *common, *ce.COMMON_NVCC_FLAGS, f"-gencode=arch=compute_{arch},code=sm_{arch}",
                             "--compiler-options", "-fPIC", "-std=c++20", *s["extra_cuda_cflags"],
                             "-c", s["cuda"], "-o", os.path.join(s["dir"], "cuda.o")])
        for cmd in cmds:
            what = os.path.basename(cmd[0])
            print(f"$ {what} ... {os.path.relpath(cmd[-1] if what != 'nvcc' else cmd[-3], folder)}", flush=True)
            r = subprocess.run(cmd, cwd=s["dir"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            sys.stdout.write(r.stdout)
            print(f"[exit {r.returncode}]", flush=True)
            if r.returncode != 0:
                status = 1
    return status


if __name__ == "__main__":
    from grader.process import exit_now

    exit_now(_child(sys.argv[1]))   # without the interpreter's teardown: a second of a core, with torch imported
