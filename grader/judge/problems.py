"""Finding problems: bundled names, external folders, plain paths, and their metadata.

A problem is any KernelBench-format file. Its metadata, when present, lies
beside it as NAME.json and is validated as `ProblemMeta`.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from grader import bundled
from grader.errors import UsageError
from grader.models import ProblemMeta
from grader.protocol.problem_file import load_module, module_constants, problem_source, safe_eval  # noqa: F401

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
