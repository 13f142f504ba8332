"""Reading a problem file: its integer sizes from the AST, its source with `--dims` applied, and importing it.

Both sides run this: the judge sizes a grading and checks `--dims` with it, the jailed worker imports the
problem through `load_module`. One copy, so the file the worker runs is the file the judge sized.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Mapping
from pathlib import Path

from grader.errors import UsageError


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
        if isinstance(node, ast.Assign):
            target, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = [node.target], node.value
        else:
            continue
        hit = [t.id for t in target if isinstance(t, ast.Name) and t.id in dims]
        if hit:
            spans.append((value, int(dims[hit[0]])))
    raw = text.encode()
    starts = [0]
    for line in raw.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    for value, new in sorted(spans, key=lambda s: (s[0].lineno, s[0].col_offset), reverse=True):
        end_line, end_col = value.end_lineno or value.lineno, value.end_col_offset or 0  # ast.parse sets both
        a = starts[value.lineno - 1] + value.col_offset       # ast columns are UTF-8 byte offsets
        b = starts[end_line - 1] + end_col
        # A value spread over several lines keeps them, as continuations, so tracebacks point where they did.
        raw = raw[:a] + (repr(new) + " \\\n" * (end_line - value.lineno)).encode() + raw[b:]
    return raw.decode()


_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.FloorDiv: lambda a, b: a // b, ast.Div: lambda a, b: a / b, ast.Mod: lambda a, b: a % b,
           ast.Pow: lambda a, b: a ** b}


def safe_eval(node: ast.AST | str, names: Mapping[str, int | float]) -> int | float:
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
