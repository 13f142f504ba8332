"""From a compiler's `main.cpp:5:20: error:` back to the line of the solution that the student edits.

`torch.utils.cpp_extension.load_inline` (torch 2.13) writes its sources into a build folder named after
the extension:

    main.cpp = "\\n".join(["#include <torch/extension.h>", *cpp_sources, PYBIND11_MODULE(...) lines])
    cuda.cu  = "\\n".join(["#include <torch/types.h>", "#include <cuda.h>", "#include <cuda_runtime.h>",
                          *cuda_sources])

(the include lines are left out with `no_implicit_headers=True`). Joining with "\\n" means a source
string `s` takes exactly `s.count("\\n") + 1` lines. This module finds the `load_inline` calls of a
solution by reading its AST (the solution is never run), works out which string literal every generated
line came from, and maps compiler diagnostics back to editor lines and columns.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath

CPP_HEADER = ["#include <torch/extension.h>"]
CUDA_HEADER = ["#include <torch/types.h>", "#include <cuda.h>", "#include <cuda_runtime.h>"]

# Where one generated line came from: (editor line, editor column of the generated line's first character),
# both 1-based; None for lines the user did not write (implicit headers, generated bindings).
Origin = tuple[int, int] | None


@dataclass
class InlineExtension:
    """One load_inline call, as far as it can be read without running anything."""

    name: str | None                     # name=, when a literal
    call_line: int
    cpp: list[Origin] = field(default_factory=list)       # main.cpp line i+1 -> origin
    cuda: list[Origin] = field(default_factory=list)      # cuda.cu line i+1 -> origin
    cpp_text: list[str] | None = None    # the source strings when all were literals, else None
    cuda_text: list[str] | None = None
    functions: list[str] | dict[str, str] | None = None
    functions_line: int | None = None
    literal_args: dict[str, object] = field(default_factory=dict)  # other keyword args that are literals
    problems: list[str] = field(default_factory=list)   # why some part could not be read statically

    @property
    def cpp_file(self) -> str | None:
        """main.cpp exactly as load_inline writes it, or None when a source is not a literal."""
        if self.cpp_text is None:
            return None
        header = [] if self.literal_args.get("no_implicit_headers") is True else list(CPP_HEADER)
        parts = header + list(self.cpp_text)
        fns = self.functions
        if fns is not None:
            if isinstance(fns, str):
                fns = [fns]
            if isinstance(fns, list):
                fns = {f: f for f in fns}
            parts.append("PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {")
            wrap = self.literal_args.get("with_pytorch_error_handling", True)
            for f, doc in fns.items():
                parts.append(f'm.def("{f}", torch::wrap_pybind_function({f}), "{doc}");' if wrap
                             else f'm.def("{f}", {f}, "{doc}");')
            parts.append("}")
        return "\n".join(parts)

    @property
    def cuda_file(self) -> str | None:
        if not self.cuda_text:
            return None
        header = [] if self.literal_args.get("no_implicit_headers") is True else list(CUDA_HEADER)
        return "\n".join(header + list(self.cuda_text))

    def origin(self, file: str, line: int) -> Origin:
        table = self.cuda if file.endswith((".cu", ".cuh")) else self.cpp
        if 1 <= line <= len(table):
            return table[line - 1]
        return None


# ---------------------------------------------------------------- reading the solution

def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


class _Module:
    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines()
        self.tree = ast.parse(text)
        # Every simple assignment `name = value`, in source order, to resolve names used as sources.
        self.assigns: dict[str, list[ast.AST]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.assigns.setdefault(t.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
                self.assigns.setdefault(node.target.id, []).append(node.value)

    def resolve_name(self, name: str, before_line: int) -> ast.AST | None:
        cands = [v for v in self.assigns.get(name, []) if v.lineno <= before_line]
        return cands[-1] if cands else None

    # A source expression -> a list of source strings, each a list of segments (literal nodes, concatenated).
    def sources(self, node: ast.AST, line: int, depth: int = 0) -> list[list[ast.Constant]] | None:
        if depth > 8:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [[node]]
        if isinstance(node, ast.Constant) and node.value is None:
            return []
        if isinstance(node, ast.Name):
            v = self.resolve_name(node.id, line)
            return None if v is None else self.sources(v, line, depth + 1)
        if isinstance(node, (ast.List, ast.Tuple)):
            out: list[list[ast.Constant]] = []
            for elt in node.elts:
                s = self.sources(elt, line, depth + 1)
                if s is None:
                    return None
                out += s
            return out
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            a, b = self.sources(node.left, line, depth + 1), self.sources(node.right, line, depth + 1)
            if a is None or b is None:
                return None
            if len(a) == 1 and len(b) == 1:        # "str" + "str": one source made of two segments
                return [a[0] + b[0]]
            return a + b                            # [..] + [..]: list concatenation
        return None

    def literal(self, node: ast.AST, line: int, depth: int = 0):
        if isinstance(node, ast.Name) and depth < 8:
            v = self.resolve_name(node.id, line)
            if v is not None:
                return self.literal(v, line, depth + 1)
        return ast.literal_eval(node)

    # Where each line of a segment's value lies in the editor.
    def segment_origins(self, seg: ast.Constant) -> list[tuple[int, int]]:
        value: str = seg.value
        vlines = value.split("\n")
        first, last = seg.lineno, seg.end_lineno or seg.lineno
        start_col = self._content_col(seg)
        if len(vlines) == last - first + 1 and start_col is not None:
            # Line for line (a triple-quoted literal without line continuations).
            return [(first + i, (start_col + 1) if i == 0 else 1) for i in range(len(vlines))]
        # Escapes (\n in a one-line string, backslash continuations, implicit concatenation):
        # find each value line's text among the literal's physical lines, in order.
        out: list[tuple[int, int]] = []
        cursor = first
        for vl in vlines:
            probe = vl.strip()
            found = None
            if probe:
                for ln in range(cursor, last + 1):
                    text = self.lines[ln - 1] if ln - 1 < len(self.lines) else ""
                    col = text.find(probe)
                    if col >= 0:
                        lead = len(vl) - len(vl.lstrip())
                        found = (ln, max(col - lead, 0) + 1)
                        break
            if found is None:
                found = (cursor, 1)
            else:
                cursor = found[0]
            out.append(found)
        return out

    def _content_col(self, seg: ast.Constant) -> int | None:
        """0-based character column where the literal's value starts (after prefix and quotes)."""
        if seg.lineno - 1 >= len(self.lines):
            return None
        line = self.lines[seg.lineno - 1]
        # ast columns are UTF-8 byte offsets
        start = len(line.encode()[:seg.col_offset].decode(errors="replace"))
        m = re.match(r"[rRbBuUfF]{0,2}('''|\"\"\"|'|\")", line[start:])
        return start + m.end() if m else None


def find_extensions(text: str) -> list[InlineExtension]:
    """Every load_inline call in the solution's source, without running it. [] when it does not parse."""
    try:
        mod = _Module(text)
    except SyntaxError:
        return []
    exts = []
    for node in ast.walk(mod.tree):
        if not (isinstance(node, ast.Call) and _call_name(node) == "load_inline"):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        pos = ["name", "cpp_sources", "cuda_sources"]
        for i, a in enumerate(node.args[:3]):
            kw.setdefault(pos[i], a)
        ext = InlineExtension(name=None, call_line=node.lineno)
        try:
            name = mod.literal(kw["name"], node.lineno) if "name" in kw else None
            ext.name = name if isinstance(name, str) else None
        except (ValueError, TypeError, SyntaxError):
            ext.problems.append("name= is not a literal")
        for key in ("extra_cflags", "extra_cuda_cflags", "extra_ldflags", "extra_include_paths",
                    "no_implicit_headers", "with_cuda", "with_pytorch_error_handling", "use_pch"):
            if key in kw:
                try:
                    ext.literal_args[key] = mod.literal(kw[key], node.lineno)
                except (ValueError, TypeError, SyntaxError):
                    ext.problems.append(f"{key}= is not a literal")
        if "functions" in kw:
            ext.functions_line = kw["functions"].lineno
            try:
                f = mod.literal(kw["functions"], node.lineno)
                ext.functions = f if isinstance(f, (str, list, dict)) else None
            except (ValueError, TypeError, SyntaxError):
                ext.problems.append("functions= is not a literal")
        no_headers = ext.literal_args.get("no_implicit_headers") is True
        for key, header, table_name in (("cpp_sources", CPP_HEADER, "cpp"), ("cuda_sources", CUDA_HEADER, "cuda")):
            table: list[Origin] = []
            texts: list[str] | None = []
            srcs = mod.sources(kw[key], node.lineno) if key in kw else []
            if srcs is None:
                ext.problems.append(f"{key}= is computed at run time; its lines cannot be mapped")
                texts = None
                srcs = []
            if srcs or key == "cpp_sources":
                table += [None] * (0 if no_headers else len(header))
            for segs in srcs:
                joined: list[Origin] = []
                for k, seg in enumerate(segs):
                    origins = mod.segment_origins(seg)
                    if k > 0 and joined:
                        # The segment's first line continues the previous segment's last line: that merged
                        # line is blamed on whichever part has text.
                        last = joined.pop()
                        joined.append(last if segs[k - 1].value.split("\n")[-1].strip() else origins[0])
                        origins = origins[1:]
                    joined += origins
                table += joined
                if texts is not None:
                    texts.append("".join(s.value for s in segs))
            if table_name == "cpp":
                ext.cpp, ext.cpp_text = table, texts
                if ext.functions is not None and texts is not None:
                    n = len(ext.functions) if not isinstance(ext.functions, str) else 1
                    ext.cpp += [(ext.functions_line, 1)] * (n + 2) if ext.functions_line else [None] * (n + 2)
            else:
                ext.cuda, ext.cuda_text = table, texts
        exts.append(ext)
    exts.sort(key=lambda e: e.call_line)
    return exts


# ---------------------------------------------------------------- reading a compile log

@dataclass
class Diagnostic:
    severity: str          # error, warning, note
    message: str
    file: str              # main.cpp, cuda.cu, or the solution's own file name
    line: int              # in that file
    col: int | None = None
    ext: str | None = None  # the extension (build folder) the file belongs to
    editor_line: int | None = None   # 1-based, in the solution
    editor_col: int | None = None    # 1-based

    def where(self) -> str:
        if self.editor_line is None:
            return f"{self.file}:{self.line}"
        return f"line {self.editor_line}"

    def label(self) -> str:
        loc = f"{self.file}:{self.line}" + (f":{self.col}" if self.col else "")
        ed = f"line {self.editor_line}" if self.editor_line else "not mapped"
        return f"{ed:>9}  {self.severity}: {self.message}  ({loc})"


# gcc/clang/nvcc host:  /build/ext/main.cpp:5:20: error: msg
# nvcc front end:       /build/ext/cuda.cu(12): error: msg     /build/ext/cuda.cu(12): error #20: msg
_GCC = re.compile(r"(?P<path>(?:[^\s:()'\"]*/)?(?P<file>[\w.+-]+\.(?:cpp|cu|cuh|cc|cxx|h|hpp))):(?P<line>\d+)"
                  r"(?::(?P<col>\d+))?:\s*(?P<sev>fatal error|error|warning|note)\s*(?:#[\w-]+-?[DE]?)?:\s*(?P<msg>.*)")
_NVCC = re.compile(r"(?P<path>(?:[^\s:()'\"]*/)?(?P<file>[\w.+-]+\.(?:cpp|cu|cuh|cc|cxx|h|hpp)))\((?P<line>\d+)\):\s*"
                   r"(?P<sev>fatal error|error|warning|remark|note)\s*(?:#[\w-]+)?:\s*(?P<msg>.*)")
_PY = re.compile(r"File \"(?P<path>[^\"]+)\", line (?P<line>\d+)")
_PY_SYNTAX = re.compile(r"(?P<path>\S+\.py):(?P<line>\d+): syntax error: (?P<msg>.*)")
GENERATED = {"main.cpp", "cuda.cu"}


def parse_log(log: str, solution_name: str = "") -> list[Diagnostic]:
    """Diagnostics in a compile log, in order, without duplicates. Compiler lines of files other than
    load_inline's (system headers) are kept only as notes of the diagnostic before them."""
    out: list[Diagnostic] = []
    seen: set[tuple] = set()
    for raw in log.splitlines():
        line = raw.strip()
        m = _GCC.search(line) or _NVCC.search(line)
        if m:
            file = m["file"]
            parent = PurePath(m["path"]).parent.name or None
            sev = "error" if m["sev"] == "fatal error" else m["sev"]
            col = int(m["col"]) if m.groupdict().get("col") else None
            d = Diagnostic(sev, m["msg"].strip(), file, int(m["line"]), col, ext=parent)
        else:
            m = _PY_SYNTAX.search(line)
            if m and _is_solution(m["path"], solution_name):
                d = Diagnostic("error", f"syntax error: {m['msg']}", PurePath(m["path"]).name, int(m["line"]))
                d.editor_line = d.line
            else:
                m = _PY.search(line)
                if not (m and _is_solution(m["path"], solution_name)):
                    continue
                d = Diagnostic("error", "raised here", PurePath(m["path"]).name, int(m["line"]))
                d.editor_line = d.line
        key = (d.severity, d.file, d.line, d.col, d.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out


def _is_solution(path: str, solution_name: str) -> bool:
    name = PurePath(path).name
    return bool(solution_name) and name == solution_name or name == "solution.py" or "/solution" in path


def map_diagnostics(diags: list[Diagnostic], source: str) -> list[Diagnostic]:
    """Fill in editor_line/editor_col for diagnostics in main.cpp/cuda.cu of the solution's extensions."""
    exts = find_extensions(source)
    for d in diags:
        if d.file not in GENERATED or not exts:
            continue
        ext = next((e for e in exts if e.name and e.name == d.ext), None)
        if ext is None:
            ext = exts[0] if len(exts) == 1 or not d.ext else next(
                (e for e in exts if e.name is None), exts[0])
        origin = ext.origin(d.file, d.line)
        if origin is None:
            continue
        d.editor_line = origin[0]
        d.editor_col = origin[1] + (d.col - 1 if d.col else 0)
    return diags


def diagnostics(log: str, source: str, solution_name: str = "") -> list[Diagnostic]:
    """Errors first, then warnings; notes are dropped. Mapped to the editor where possible."""
    ds = map_diagnostics(parse_log(log, solution_name), source)
    errors = [d for d in ds if d.severity == "error"]
    warnings = [d for d in ds if d.severity == "warning"]
    return errors + warnings


def located_errors(log: str, solution: str | Path, limit: int = 5) -> list[str]:
    """The compiler's first errors as `solution.py:LINE:COL: error: ...`, at the solution's own lines where
    they map (else at the generated file's), for the CLI's message and summary."""
    solution = Path(solution)
    try:
        source = solution.read_text()
    except (OSError, UnicodeDecodeError):
        source = ""
    out = []
    for d in diagnostics(log, source, solution.name):
        if d.severity != "error":
            continue
        if d.editor_line:
            where = f"{solution.name}:{d.editor_line}" + (f":{d.editor_col}" if d.editor_col else "")
            generated = f"  ({d.file}:{d.line} as generated)" if d.file in GENERATED else ""
        else:
            where, generated = f"{d.file}:{d.line}" + (f":{d.col}" if d.col else ""), ""
        out.append(f"{where}: error: {d.message}{generated}")
        if len(out) == limit:
            break
    return out
