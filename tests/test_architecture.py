"""The layers of docs/architecture.md hold in the tree: what the jail mounts is all the jailed code imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from grader.jail import MOUNTED

ROOT = Path(__file__).resolve().parent.parent


def _grader_imports(path: Path) -> set[str]:
    """Every grader module a file imports, at the top or inside a function (the worker imports late)."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in ("grader", "sandbox", "tui")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module.split(".")[0] in ("grader", "sandbox", "tui"):
                found |= {f"{module}.{a.name}" for a in node.names}
    return found


def _mounted(name: str) -> bool:
    return name == "grader" or any(name == m or name.startswith(m + ".") for m in MOUNTED)


def test_the_jailed_code_imports_only_what_the_jail_mounts():
    files = sorted((ROOT / "grader" / "jail").glob("*.py")) + sorted((ROOT / "grader" / "protocol").glob("*.py"))
    assert files
    outside = {f"{f.relative_to(ROOT)}: {name}" for f in files for name in _grader_imports(f) if not _mounted(name)}
    assert not outside, "the jail would not find these (add to grader.jail.MOUNTED only if the judge is not in it):\n" \
                        + "\n".join(sorted(outside))


def test_the_mounted_leaf_modules_import_nothing_of_the_grader():
    for leaf in ("errors", "models"):
        assert not {n for n in _grader_imports(ROOT / "grader" / f"{leaf}.py") if n.startswith("grader")}, leaf


def test_docs_architecture_names_real_modules_and_every_package():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:grader|sandbox|tui)/[\w/]*(?:\.py)?)`", doc))
    assert named
    missing = sorted(n for n in named if not (ROOT / n).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
    packages = sorted(str(p.parent.relative_to(ROOT)) + "/" for top in ("grader", "sandbox", "tui")
                      for p in (ROOT / top).rglob("__init__.py"))
    unnamed = [p for p in packages if p not in doc]
    assert not unnamed, f"packages docs/architecture.md does not name: {unnamed}"
