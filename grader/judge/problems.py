"""Finding problems: bundled names, external folders, plain paths, and their metadata.

A problem is any KernelBench-format file. Its metadata, when present, lies
beside it as NAME.json and is validated as `ProblemMeta`.
"""

from __future__ import annotations

import ast
import itertools
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from grader import bundled
from grader.errors import UsageError
from grader.models import ProblemMeta

BUNDLED = bundled.folder("problems")
REQUIRED = ("Model", "get_inputs", "get_init_inputs")


def search_dirs(problems_dir: str | Path | None) -> list[Path]:
    dirs = [Path(problems_dir)] if problems_dir else []
    return dirs + [BUNDLED]


def all_problem_files(problems_dir: str | Path | None = None) -> list[Path]:
    """Every problem file: the external folder's first, then the bundled library (recursively)."""
    files: list[Path] = []
    for d in search_dirs(problems_dir):
        if d.is_dir():
            files += sorted(p for p in d.rglob("*.py") if not p.name.startswith(("_", ".")))
    return files


def resolve(problem: str, problems_dir: str | Path | None = None) -> Path:
    """A path, or a name found in `problems_dir` or the bundled library ('relu', 'level1/relu', '19_ReLU')."""
    p = Path(problem)
    if p.suffix == ".py" or p.is_file():
        if not p.is_file():
            raise UsageError(f"{problem}: no such problem file; pass a path to a KernelBench-format .py "
                             "or a bundled name from `grader problems list`")
        return p.resolve()
    if problems_dir and not Path(problems_dir).is_dir():
        raise UsageError(f"{problems_dir}: --problems-dir is not a folder")
    want = problem.removesuffix(".py")
    for f in all_problem_files(problems_dir):
        rel = f.with_suffix("")
        if rel.name == want or str(rel).endswith("/" + want):
            return f.resolve()
    raise UsageError(f"{problem}: no problem of that name; `grader problems list` shows the bundled ones, "
                     "or pass a path to a .py file")


def check_source(path: Path) -> None:
    """Refuse, with a one-line reason, a file that cannot be a problem. Reads, never runs."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as e:
        raise UsageError(f"{path}:{e.lineno}: syntax error in problem: {e.msg}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read problem: {e}") from e
    defined = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    missing = [name for name in REQUIRED if name not in defined]
    if missing:
        raise UsageError(f"{path}: not a KernelBench problem: it defines no {', '.join(missing)}")


def load_meta(path: Path) -> ProblemMeta | None:
    """The metadata beside a problem, or None for a plain KernelBench file."""
    side = path.with_suffix(".json")
    if not side.is_file():
        return None
    try:
        return ProblemMeta.model_validate_json(side.read_text())
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UsageError(f"{side}: invalid metadata at {where or 'top level'}: {first['msg']}") from e


# ---------------------------------------------------------------- reading a problem without running it

def module_constants(path: Path, dims: dict[str, int] | None = None) -> dict[str, int]:
    """Module-level integer constants (`batch_size = 16`, `dim = 4 * 1024`), read from the AST, never run.

    An assignment whose right side is simple integer arithmetic over literals and earlier constants counts;
    anything else is skipped. A later assignment overrides an earlier one, as at run time. With `dims`, the
    values are those of the file as `--dims` rewrites it, so derived constants (`dim = 2 * N`) follow.
    """
    try:
        tree = ast.parse(problem_source(path, dims), filename=str(path))
    except (SyntaxError, OSError, UnicodeDecodeError, UsageError):
        return {}
    consts: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if not names:
            continue
        try:
            v = safe_eval(value, consts)
        except ValueError:
            for n in names:
                consts.pop(n, None)
            continue
        if isinstance(v, int) and not isinstance(v, bool):
            for n in names:
                consts[n] = v
        else:
            for n in names:
                consts.pop(n, None)
    return consts


def problem_source(path: Path, dims: dict[str, int] | None = None) -> str:
    """The problem's source with each module-level size named in `dims` set to its new value.

    The one place where `--dims` is applied: the workers, the sizing, the roofline and the TUI all read the
    problem through here. The value of every top-level assignment to the name is replaced in the text, so
    constants computed from it later in the file (`dim = 2 * N`) follow, and line numbers stay as they were.
    Raises UsageError for a name that is not one of the file's integer sizes.
    """
    path = Path(path)
    text = path.read_text()
    if not dims:
        return text
    known = module_constants(path)
    unknown = [k for k in dims if k not in known]
    if unknown:
        raise UsageError(f"--dims: {path.name} has no size named {', '.join(unknown)}; its sizes are "
                         + (", ".join(f"{k}={v}" for k, v in known.items()) or "none (no integer constants)"))
    spans = []
    for node in ast.parse(text, filename=str(path)).body:
        target = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) and node.value is not None else []
        hit = [t.id for t in target if isinstance(t, ast.Name) and t.id in dims]
        if hit:
            spans.append((node.value, int(dims[hit[0]])))
    raw = text.encode()
    starts = [0]
    for line in raw.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    for value, new in sorted(spans, key=lambda s: (s[0].lineno, s[0].col_offset), reverse=True):
        a = starts[value.lineno - 1] + value.col_offset       # ast columns are UTF-8 byte offsets
        b = starts[value.end_lineno - 1] + value.end_col_offset
        # A value spread over several lines keeps them, as continuations, so tracebacks point where they did.
        raw = raw[:a] + (repr(new) + " \\\n" * (value.end_lineno - value.lineno)).encode() + raw[b:]
    return raw.decode()


def parse_dims(text: str) -> dict[str, int]:
    """`batch_size=16,dim=1024` -> {'batch_size': 16, 'dim': 1024}; UsageError naming the bad part."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        try:
            n = int(value.strip().replace("_", ""), 0)
        except ValueError:
            n = None
        if not eq or not name.isidentifier() or n is None or n < 0:
            raise UsageError(f"--dims: {part!r} is not NAME=INTEGER (e.g. --dims batch_size=16,dim=1024)")
        out[name] = n
    return out


_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.FloorDiv: lambda a, b: a // b, ast.Div: lambda a, b: a / b, ast.Mod: lambda a, b: a % b,
           ast.Pow: lambda a, b: a ** b}


def safe_eval(node: ast.AST | str, names: dict[str, int | float]) -> int | float:
    """Evaluate integer/float arithmetic (+ - * / // % **, parentheses, unary minus, names, min/max).

    Raises ValueError for anything else; nothing is ever executed.
    """
    if isinstance(node, str):
        try:
            node = ast.parse(node.strip(), mode="eval").body
        except SyntaxError as e:
            raise ValueError(f"not an expression: {e.msg}") from e
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ValueError(f"unknown name {node.id!r}")
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = safe_eval(node.operand, names)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = safe_eval(node.left, names), safe_eval(node.right, names)
        if isinstance(node.op, ast.Pow) and (abs(b) > 64 or abs(a) > 1 << 32):
            raise ValueError("exponent too large")
        try:
            return _BINOPS[type(node.op)](a, b)
        except ZeroDivisionError as e:
            raise ValueError("division by zero") from e
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max")
            and node.args and not node.keywords):
        vals = [safe_eval(a, names) for a in node.args]
        return min(vals) if node.func.id == "min" else max(vals)
    raise ValueError(f"unsupported expression: {ast.dump(node)[:60]}")


# ---------------------------------------------------------------- listing

class ProblemEntry:
    """One problem as `problems list` shows it: never runs the file."""

    __slots__ = ("name", "path", "meta", "source_dir", "error")

    def __init__(self, name: str, path: Path, meta: ProblemMeta | None, source_dir: Path, error: str = ""):
        self.name, self.path, self.meta, self.source_dir, self.error = name, path, meta, source_dir, error

    @property
    def level(self) -> int | None:
        if self.meta is not None:
            return self.meta.level
        # KernelBench layout: .../level1/19_ReLU.py
        for part in reversed(self.path.parent.parts):
            if part.startswith("level") and part[5:].isdigit():
                return int(part[5:])
        return None

    @property
    def tags(self) -> list[str]:
        return list(self.meta.tags) if self.meta else []


def list_problems(problems_dir: str | Path | None = None, level: int | None = None,
                  tag: str | None = None) -> list[ProblemEntry]:
    """Problems of the external folder (when given) then the bundled library, filtered by level and tag.

    Files that are not problems (helpers, solutions) are left out; a problem with broken metadata is kept
    with its error, so `list` can say what to fix.
    """
    if problems_dir and not Path(problems_dir).is_dir():
        raise UsageError(f"{problems_dir}: --problems-dir is not a folder")
    out: list[ProblemEntry] = []
    seen: set[str] = set()
    for d in search_dirs(problems_dir):
        if not d.is_dir():
            continue
        for f in sorted(p for p in d.rglob("*.py") if not p.name.startswith(("_", "."))):
            try:
                check_source(f)
            except UsageError:
                continue
            meta, err = None, ""
            try:
                meta = load_meta(f)
            except UsageError as e:
                err = str(e)
            name = f.stem
            if name in seen:          # the external folder shadows a bundled name
                continue
            seen.add(name)
            e = ProblemEntry(name, f, meta, d, err)
            if level is not None and e.level != level:
                continue
            if tag is not None and tag not in e.tags:
                continue
            out.append(e)
    return out


# ---------------------------------------------------------------- running a reference (trusted problem files only)

def load_module(path: Path, dims: dict[str, int] | None = None, name: str | None = None):
    """Import a problem file as a fresh module, with its sizes set by `dims` (see `problem_source`).

    Runs the file: use on problem files, which are trusted, never on solutions.
    """
    import sys
    import types

    path = Path(path)
    name = name or f"_grader_problem_{path.stem}_{next(_counter)}"
    source = problem_source(path, dims)
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    sys.modules[name] = mod
    try:
        exec(compile(source, str(path), "exec"), mod.__dict__)
    except Exception as e:
        sys.modules.pop(name, None)
        raise UsageError(f"{path}: importing the problem failed: {type(e).__name__}: {e}") from e
    return mod


_counter = itertools.count()


def small_sizes(path: Path, meta: ProblemMeta | None = None, factor: int = 16, floor: int = 8) -> dict[str, int]:
    """Constants to override for a quick CPU run: meta.test_sizes where given, else each constant
    larger than 64 divided by `factor` (at least `floor`), rounded down to a multiple of 8 when it was one."""
    consts = module_constants(path)
    if meta is not None and meta.test_sizes:
        return dict(meta.test_sizes)
    out: dict[str, int] = {}
    for k, v in consts.items():
        if v > 64:
            n = max(v // factor, floor)
            if v % 8 == 0:
                n = max(n - n % 8, 8)
            out[k] = n
    return out


@contextmanager
def cuda_calls_stay():
    """KernelBench files often call .cuda() in get_inputs or __init__: while this lasts, tensors and
    modules stay where they are (meta tensors, or the CPU) instead."""
    import torch

    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved
