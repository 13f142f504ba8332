"""Static checks on a solution's source, made before anything of it runs.

Reads the AST, never imports. A solution counts as bringing its own kernel when
it builds one and uses it: a cpp_extension load/load_inline call with real source,
a Triton jit, or a CuPy/NVRTC raw kernel. Plain PyTorch ops only earn `no_custom_kernel`.

Beyond that, named patterns (after gpu-mode/kernelguard's catalogue of reward hacks) become
flags. None of them decides correctness or timing - the trusted grader does that from raw bytes
and its own clock - but they say where to look, `tampering` makes the speedup untrusted, and
`--strict` refuses the ones in STRICT_FLAGS. Static checks can be evaded by obfuscation; the
sandbox and the grader's own checks are the defence, these are the tripwires.

| flag | pattern |
| --- | --- |
| `tampering` | assigns to attributes of torch, numpy, time, sys, builtins, ... (monkeypatching allclose, timers, print); reaches into the harness (`grader`, `sys.modules`, `gc`, `inspect`, frames, `__globals__`); runs generated code (`exec`, `eval`, `compile`, `__import__`, `importlib`); prints text that looks like a verdict |
| `calls_reference` | ModelNew uses the reference `Model` (calls it, inherits from it) |
| `torch_fallback` | a try/except whose handler falls back to PyTorch ops |
| `torch_compute_in_forward` | a custom kernel exists but forward() still calls heavy PyTorch ops (a hint: fusing a cuBLAS GEMM with a custom epilogue is legitimate) |
| `risky_import` | subprocess, ctypes, socket, threading, multiprocessing, signal, ... |
| `reads_system_files` | paths under /proc, /sys, /etc, /root, /home, /dev/shm, ... |
| `result_cache` | keys state on `data_ptr()`, `id()` or `_version` of tensors (caching results by input identity) |
| `side_stream` | creates CUDA streams (work the default-stream events may miss) |
| `cuda_graph` | captures or replays CUDA graphs |
| `uses_torch_compile` | calls torch.compile (not a custom kernel) |
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pydantic import BaseModel

from grader.jail import backends

KERNEL_BUILDERS = {"load_inline", "load", "jit", "RawKernel", "RawModule", "compile_kernel"}
# The kernel languages of grader/jail/backends.py, and raw-kernel libraries a solution may use beside them.
KERNEL_MODULES = (*(m for b in backends.BACKENDS.values() for m in b.modules), "cupy", "cuda", "numba")

# Modules whose attributes a solution has no business assigning to.
PROTECTED_MODULES = ("torch", "numpy", "time", "timeit", "sys", "builtins", "os", "math", "random", "gc",
                     "inspect", "triton", "cupy", "grader", "sandbox", "ctypes", "functools", "importlib")
# Settings, not patches: assigning these is ordinary tuning.
CONFIG_PREFIXES = ("torch.backends.", "torch._dynamo.config.", "torch._inductor.config.", "torch.set_",
                   "torch.cuda.matmul.", "triton.Config", "numpy.set_")
HARNESS_MODULES = ("grader", "sandbox", "__main__", "gc", "inspect", "kg_problem", "kg_solution")
HARNESS_ATTRS = {"f_back", "f_globals", "f_locals", "f_builtins", "gi_frame", "tb_frame", "__code__", "co_code",
                 "__globals__", "__builtins__", "__subclasses__", "get_referrers", "get_objects", "_getframe",
                 "modules", "settrace", "setprofile", "_current_frames"}
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__"}
DYNAMIC_MODULES = ("importlib", "marshal", "runpy", "code", "codeop")
RISKY_MODULES = ("subprocess", "ctypes", "socket", "threading", "multiprocessing", "concurrent", "signal", "pty",
                 "asyncio", "urllib", "http", "requests", "ftplib", "smtplib", "mmap", "resource", "fcntl",
                 "shutil", "tempfile", "pickle", "dill", "cloudpickle", "psutil", "pynvml")
SYSTEM_PATHS = ("/proc", "/sys", "/etc", "/root", "/home", "/dev/shm", "/dev/mem", "/var", "/run", "/tmp/kgrader",
                "/kg/", "~")
VERDICT_TEXT = re.compile(r"\"?(status|speedup|speedup_trusted|runtime_ms)\"?\s*[:=]|\b(passed|PASSED|correct on \d+ "
                          r"trials|Ranked Benchmark)\b")
TORCH_ROOTS = ("torch", "F", "nn", "np", "numpy")
HEAVY_OPS = {"matmul", "mm", "bmm", "addmm", "baddbmm", "einsum", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
             "conv_transpose2d", "conv_transpose3d", "linear", "softmax", "log_softmax", "layer_norm", "batch_norm",
             "group_norm", "instance_norm", "scaled_dot_product_attention", "cross_entropy", "max_pool2d",
             "avg_pool2d", "cumsum", "cumprod", "argmax", "argmin", "sort", "topk", "gelu", "silu", "relu",
             "sigmoid", "tanh", "hardswish", "leaky_relu", "rms_norm", "normalize", "logsumexp"}
STREAM_TEXT = re.compile(r"getStreamFromPool|cudaStreamCreate|torch\.cuda\.Stream\b|cudaStreamNonBlocking")
GRAPH_TEXT = re.compile(r"cudaGraphLaunch|cudaStreamBeginCapture|CUDAGraph\b|cudaGraphInstantiate")

TAMPER_KINDS = ("patches_module", "harness_access", "dynamic_code", "verdict_text")
STRICT_FLAGS = ("no_custom_kernel", "tampering", "calls_reference", "torch_fallback", "risky_import",
                "reads_system_files")
# Flags only running the solution can raise; --strict refuses them once the grading has run.
RUNTIME_STRICT_FLAGS = {"no_custom_kernel": "none of the GPU kernels it launched is defined in its own source",
                        "reduced_precision": "it computes in lower precision than the problem's dtype"}
GLOBAL_FN = re.compile(r"__global__\b[^;{}()]*?\b([A-Za-z_]\w*)\s*\(")  # after __launch_bounds__(...) is cut
NOT_KERNELS = ("Memcpy", "Memset")  # copies and fills the profiler lists beside kernels
DSL_KERNEL = re.compile(r"kernel_\w+_\d+")  # CuTe DSL's kernel names: kernel_<module>_<function>_<arg types>_<n>


class Finding(BaseModel):
    flag: str          # the report flag it raises
    kind: str          # the pattern, finer than the flag
    line: int
    detail: str


class SourceCheck(BaseModel):
    ok: bool                      # parsed and defines ModelNew
    message: str = ""             # one line when not ok
    custom_kernel: bool = False
    flags: list[str] = []
    findings: list[Finding] = []

    @property
    def tampering(self) -> bool:
        return "tampering" in self.flags

    def strict_violations(self) -> list[str]:
        """One line per reason --strict refuses this solution; empty when it may be graded."""
        out = []
        if not self.custom_kernel:
            out.append("no custom kernel (load_inline, Triton, ...): it only calls PyTorch ops")
        out += [f"line {f.line}: {f.detail}" for f in self.findings if f.flag in STRICT_FLAGS]
        return out


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _dotted(expr: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


def _root(expr: ast.AST) -> ast.AST:
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr


def _has_source_args(call: ast.Call) -> bool:
    """load_inline(cpp_sources=..., cuda_sources=...) with at least one non-empty source."""
    values = [kw.value for kw in call.keywords if kw.arg in ("cpp_sources", "cuda_sources", "sources")]
    values += call.args[1:3]
    for v in values:
        if isinstance(v, ast.Constant) and (v.value in ("", None) or v.value == []):
            continue
        if isinstance(v, (ast.List, ast.Tuple)) and not v.elts:
            continue
        return True
    return False


def _top(name: str) -> str:
    return name.split(".")[0]


class _Scanner:
    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.findings: list[Finding] = []
        self.aliases: dict[str, str] = {}  # local name -> dotted module/object path it was imported as
        for n in ast.walk(tree):
            if isinstance(n, ast.Import):
                for a in n.names:
                    self.aliases[a.asname or _top(a.name)] = a.name if a.asname else _top(a.name)
            elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
                for a in n.names:
                    self.aliases[a.asname or a.name] = f"{n.module}.{a.name}"
        self.aliases.setdefault("F", "torch.nn.functional")

    def add(self, flag: str, kind: str, node: ast.AST, detail: str) -> None:
        self.findings.append(Finding(flag=flag, kind=kind, line=getattr(node, "lineno", 0), detail=detail))

    def resolve(self, expr: ast.AST) -> str | None:
        """The dotted path of an expression with import aliases expanded: `np.allclose` -> numpy.allclose."""
        d = _dotted(expr)
        if d is None:
            return None
        head, _, rest = d.partition(".")
        if head in self.aliases:
            return self.aliases[head] + ("." + rest if rest else "")
        return d

    def _protected(self, path: str | None) -> bool:
        return bool(path) and _top(path) in PROTECTED_MODULES and _top(path) in {_top(v) for v in self.aliases.values()} \
            and not path.startswith(CONFIG_PREFIXES)

    def scan(self) -> None:
        for node in ast.walk(self.tree):
            self._imports(node)
            self._patches(node)
            self._harness(node)
            self._calls(node)
            self._strings(node)
        self._reference_use()
        self._fallbacks()
        self._caches()

    def _imports(self, node: ast.AST) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            top = _top(name)
            if top in HARNESS_MODULES:
                self.add("tampering", "harness_access", node, f"imports {name}: reaches into the grader's process")
            elif top in DYNAMIC_MODULES:
                self.add("tampering", "dynamic_code", node, f"imports {name}: loads code at run time")
            elif top in RISKY_MODULES or name in ("os.system", "os.fork", "os.kill", "os.killpg", "os.popen"):
                self.add("risky_import", "risky_import", node, f"imports {name}")

    def _patches(self, node: ast.AST) -> None:
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for t in targets:
            for sub in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]):
                path = self.resolve(sub) if isinstance(sub, ast.Attribute) else None
                if self._protected(path):
                    self.add("tampering", "patches_module", node, f"assigns {path}: monkeypatches a library")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") \
                and node.args:
            path = self.resolve(node.args[0])
            if self._protected(path) or (path and _top(path) in HARNESS_MODULES):
                self.add("tampering", "patches_module", node, f"{node.func.id}({path}, ...): monkeypatches a library")

    def _harness(self, node: ast.AST) -> None:
        if isinstance(node, ast.Attribute) and node.attr in HARNESS_ATTRS:
            path = self.resolve(node) or node.attr
            if node.attr != "modules" or path == "sys.modules":
                self.add("tampering", "harness_access", node, f"uses {path}: inspects or alters the grader's process")

    def _calls(self, node: ast.AST) -> None:
        if not isinstance(node, ast.Call):
            return
        name = self.resolve(node.func) or ""
        if isinstance(node.func, ast.Name) and node.func.id in DYNAMIC_CALLS and node.func.id not in self.aliases:
            self.add("tampering", "dynamic_code", node, f"calls {node.func.id}(): runs generated code")
        elif name in ("os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.popen", "os.execv",
                      "os.execve", "os.spawnv", "os.setsid", "os.dup2", "os.write"):
            self.add("risky_import", "risky_call", node, f"calls {name}()")
        elif name in ("torch.compile",):
            self.add("uses_torch_compile", "torch_compile", node, "calls torch.compile: not a custom kernel")
        elif name.startswith("torch.cuda.Stream") or name.endswith("get_stream_from_pool"):
            self.add("side_stream", "side_stream", node, f"creates a stream ({name})")
        elif name.endswith("CUDAGraph") or name.endswith(".graph") and name.startswith("torch.cuda"):
            self.add("cuda_graph", "cuda_graph", node, f"uses CUDA graphs ({name})")
        if name in ("print", "sys.stdout.write", "sys.stderr.write", "os.write") and any(
                isinstance(a, ast.Constant) and isinstance(a.value, str) and VERDICT_TEXT.search(a.value)
                for arg in node.args for a in ast.walk(arg)):
            self.add("tampering", "verdict_text", node, "prints text that looks like a grading result")

    def _strings(self, node: ast.AST) -> None:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            return
        text = node.value
        if text.startswith(SYSTEM_PATHS) and len(text) < 300:
            self.add("reads_system_files", "system_path", node, f"names {text[:60]!r}")
        if len(text) > 40 and STREAM_TEXT.search(text):
            self.add("side_stream", "side_stream", node, "kernel source creates or takes streams")
        if len(text) > 40 and GRAPH_TEXT.search(text):
            self.add("cuda_graph", "cuda_graph", node, "kernel source uses CUDA graphs")

    def model_new(self) -> ast.ClassDef | None:
        for n in self.tree.body:
            if isinstance(n, ast.ClassDef) and n.name == "ModelNew":
                return n
        return None

    def _reference_use(self) -> None:
        cls = self.model_new()
        if cls is None:
            return
        for base in cls.bases:
            if isinstance(base, ast.Name) and base.id == "Model":
                self.add("calls_reference", "inherits_reference", cls, "ModelNew inherits from the reference Model")
        for n in ast.walk(cls):
            if isinstance(n, ast.Name) and n.id == "Model" and isinstance(n.ctx, ast.Load):
                self.add("calls_reference", "calls_reference", n, "ModelNew uses the reference Model")
                return

    def _is_torch_call(self, n: ast.AST) -> bool:
        if not isinstance(n, ast.Call):
            return False
        path = self.resolve(n.func) or ""
        if _top(path) in ("torch", "numpy") or path.split(".")[0] in TORCH_ROOTS:
            return True
        return isinstance(n.func, ast.Attribute) and n.func.attr in HEAVY_OPS

    def _fallbacks(self) -> None:
        for fn in ast.walk(self.tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for t in ast.walk(fn):
                if isinstance(t, ast.Try):
                    for h in t.handlers:
                        if any(self._is_torch_call(n) for stmt in h.body for n in ast.walk(stmt)):
                            self.add("torch_fallback", "torch_fallback", h,
                                     "an except branch falls back to PyTorch ops")
                            break

    @staticmethod
    def _identity(k: ast.AST, tainted: set[str]) -> bool:
        return (isinstance(k, ast.Call) and isinstance(k.func, ast.Attribute) and k.func.attr == "data_ptr") or \
            (isinstance(k, ast.Call) and isinstance(k.func, ast.Name) and k.func.id == "id") or \
            (isinstance(k, ast.Attribute) and k.attr == "_version") or (isinstance(k, ast.Name) and k.id in tainted)

    def _caches(self) -> None:
        tainted: set[str] = set()  # names assigned from a tensor's identity: key = (x.data_ptr(), ...)
        for n in ast.walk(self.tree):
            if isinstance(n, ast.Assign) and any(self._identity(k, set()) for k in ast.walk(n.value)):
                tainted |= {t.id for t in n.targets if isinstance(t, ast.Name)}
        for n in ast.walk(self.tree):
            key = None
            if isinstance(n, ast.Subscript):
                key = n.slice
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("get", "setdefault",
                                                                                                  "__contains__") and n.args:
                key = n.args[0]
            elif isinstance(n, ast.Compare):
                key = n
            if key is None:
                continue
            for k in ast.walk(key):
                if self._identity(k, tainted):
                    self.add("result_cache", "result_cache", n, "keys state on tensor identity "
                                                                "(data_ptr/id/_version): results cached by input?")
                    return

    def heavy_torch_in_forward(self) -> ast.AST | None:
        cls = self.model_new()
        if cls is None:
            return None
        for fn in cls.body:
            if isinstance(fn, ast.FunctionDef) and fn.name == "forward":
                for n in ast.walk(fn):
                    if isinstance(n, ast.Call):
                        path = self.resolve(n.func) or ""
                        last = path.rsplit(".", 1)[-1]
                        if last in HEAVY_OPS and (_top(path) in ("torch", "F", "nn") or path.startswith("torch.")):
                            return n
        return None


def _builds_kernel(tree: ast.Module) -> tuple[bool, bool]:
    """(builds a kernel, and something of it is used beyond the build)."""
    imports_kernel_module = any(
        (isinstance(n, ast.Import) and any(a.name.startswith(KERNEL_MODULES) for a in n.names))
        or (isinstance(n, ast.ImportFrom) and (n.module or "").startswith(KERNEL_MODULES))
        for n in ast.walk(tree))
    if not imports_kernel_module:
        return False, False
    built_names: set[str] = set()
    builds = inline_use = False
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and _call_name(n) in KERNEL_BUILDERS \
                and (_call_name(n) != "load_inline" or _has_source_args(n)):
            builds = True
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and _call_name(n.value) in KERNEL_BUILDERS:
            built_names |= {t.id for t in n.targets if isinstance(t, ast.Name)}
        elif isinstance(n, ast.Call) and _call_name(n) in KERNEL_BUILDERS:
            inline_use = True  # e.g. load_inline(...).fn(x), or a jit decorator call
    jitted = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.FunctionDef) and any(isinstance(d, (ast.Attribute, ast.Name, ast.Call)) and "jit" in
                                                  ast.unparse(d) for d in n.decorator_list):
            jitted.add(n.name)
            builds = True
    if not builds:
        return False, False
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    used = bool((built_names | jitted) & loads) or (inline_use and not built_names and not jitted) or not (built_names
                                                                                                      or jitted)
    return True, used


def check_solution(path: Path) -> SourceCheck:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        return SourceCheck(ok=False, message=f"{path}: cannot read solution: {e}")
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as e:
        return SourceCheck(ok=False, message=f"{path}:{e.lineno}: syntax error: {e.msg}")
    defines = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    defines |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    defines |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    if "ModelNew" not in defines:
        return SourceCheck(ok=False, message=f"{path}: defines no class ModelNew; a solution must define "
                                             "`class ModelNew(nn.Module)`")
    builds, used = _builds_kernel(tree)
    custom = builds and used
    scanner = _Scanner(tree)
    scanner.scan()
    if custom:
        heavy = scanner.heavy_torch_in_forward()
        if heavy is not None:
            scanner.add("torch_compute_in_forward", "torch_compute_in_forward", heavy,
                        f"forward() still calls {ast.unparse(heavy.func)}")
    elif builds:
        scanner.add("no_custom_kernel", "unused_kernel", tree, "builds a kernel but never uses it")
    flags = [] if custom else ["no_custom_kernel"]
    for f in scanner.findings:
        if f.flag not in flags:
            flags.append(f.flag)
    return SourceCheck(ok=True, custom_kernel=custom, flags=flags, findings=scanner.findings)


def own_kernel_names(text: str) -> set[str]:
    """Kernels the solution defines itself: `__global__` functions anywhere in its text (CUDA strings,
    CuPy raw kernels) and Triton `@jit` functions. Read from the file, never from what the worker says."""
    names = {m.group(1) for m in GLOBAL_FN.finditer(re.sub(r"__launch_bounds__\s*\([^)]*\)", "", text))}
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return names
    for n in ast.walk(tree):
        if isinstance(n, ast.FunctionDef) and any(k in ast.unparse(d) for d in n.decorator_list
                                                  for k in ("jit", "cute.kernel")):
            names.add(n.name)
    return names - {"void"}


def gpu_kernels(names: list[str]) -> list[str]:
    """The kernels among a CUDA profile's names (copies and fills left out)."""
    return [n for n in names if not n.startswith(NOT_KERNELS)]


def own_kernels_ran(path: Path, profiled: list[str]) -> bool:
    """Whether any kernel of a CUDA profile is one the solution file defines (matched on identifiers of the
    demangled name, so templates, namespaces and argument lists do not matter)."""
    try:
        own = own_kernel_names(Path(path).read_text())
    except (OSError, UnicodeDecodeError):
        return False
    for name in gpu_kernels(profiled):
        ids = set(re.findall(r"[A-Za-z_]\w*", name))
        if own & ids or any(f"_{k}_" in i for i in ids if DSL_KERNEL.fullmatch(i) for k in own):
            return True
    return False
