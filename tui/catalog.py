"""What the browser shows about problems. Listing reads files and metadata only; input shapes come from
importing the problem with tensors on the meta device (grader.sizing), in a thread of this process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader import bundled, problems, roofline
from grader.models import ProblemMeta

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = bundled.folder("solutions")
LEVEL_NAMES = {0: "CPU track", 1: "Level 1 — single ops", 2: "Level 2 — fusions", 3: "Level 3 — blocks",
               4: "Level 4"}


@dataclass
class ProblemInfo:
    name: str
    path: Path
    meta: ProblemMeta | None
    level: int | None
    tags: list[str]
    error: str = ""
    constants: dict[str, int] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return self.meta.device if self.meta else "any"

    @property
    def difficulty(self) -> str:
        return self.meta.difficulty if self.meta else ""

    @property
    def description(self) -> str:
        return self.meta.description if self.meta else ""

    def group(self) -> str:
        return LEVEL_NAMES.get(self.level, f"Level {self.level}") if self.level is not None else "Other"

    def matches(self, query: str) -> bool:
        """Every word must match the name, a tag, the level ('level1', 'l1', 'cpu') or the description."""
        hay = " ".join([self.name, *self.tags, f"level{self.level}", f"l{self.level}", self.device,
                        self.difficulty, self.description]).lower()
        return all(w in hay for w in query.lower().split())

    def work(self) -> tuple[float | None, float | None]:
        return roofline.work(self.meta, self.path)

    def floors(self, gpu_name: str | None = None) -> list[tuple[str, float]]:
        """(GPU, floor ms): on the GPU graded on when its peaks are known, else on the H100 and H200 for
        reference; none for a CPU problem (no CPU peaks are known)."""
        if self.device == "cpu":
            return []
        here = roofline.peaks_for(gpu_name) if gpu_name else None
        out = []
        for peaks in [here] if here else (roofline.H100_SXM, roofline.H200):
            ms = roofline.floor_ms(self.meta, self.path, peaks)
            if ms is not None:
                out.append((peaks.name, ms))
        return out

    def reference_solution(self) -> Path | None:
        for p in (SOLUTIONS / f"level{self.level}" / f"{self.name}.py", SOLUTIONS / "cpu" / f"{self.name}.py"):
            if p.is_file():
                return p
        hits = sorted(SOLUTIONS.rglob(f"{self.name}.py")) if SOLUTIONS.is_dir() else []
        return hits[0] if hits else None


def load_catalog(problems_dir: str | None = None) -> list[ProblemInfo]:
    out = []
    for e in problems.list_problems(problems_dir):
        out.append(ProblemInfo(name=e.name, path=e.path, meta=e.meta, level=e.level, tags=e.tags, error=e.error))
    out.sort(key=lambda p: (p.level if p.level is not None else 99, p.name))
    return out


def group_by_level(items: list[ProblemInfo]) -> dict[str, list[ProblemInfo]]:
    groups: dict[str, list[ProblemInfo]] = {}
    for p in items:
        groups.setdefault(p.group(), []).append(p)
    return groups


def group_by_tag(items: list[ProblemInfo]) -> dict[str, list[ProblemInfo]]:
    groups: dict[str, list[ProblemInfo]] = {}
    for p in items:
        for t in p.tags or ["untagged"]:
            groups.setdefault(t, []).append(p)
    return dict(sorted(groups.items()))


# ---------------------------------------------------------------- input shapes and sizes

@dataclass
class Inputs:
    inputs: list[str]
    init_inputs: list[str]
    note: str = ""
    input_bytes: int | None = None
    output_bytes: int | None = None


def describe_inputs(path: Path) -> Inputs:
    """Shapes, dtypes and bytes of get_inputs() and the reference's outputs, made on the meta device in this
    process (grader.sizing: the same figures the grader sizes a grading by, cached per file content)."""
    from grader import sizing
    from grader.errors import UsageError

    try:
        size = sizing.measure(Path(path))
    except (UsageError, OSError) as e:
        return Inputs([], [], str(e))
    return Inputs(size.inputs, size.init_inputs, size.note, size.input_bytes, size.output_bytes)


def human(n: float | None, unit: str) -> str:
    if n is None:
        return "—"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:.3g} {unit}"
