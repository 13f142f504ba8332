"""What the browser shows about problems. Listing reads files and metadata only; input shapes come from
tui.describer's child process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.judge import problems, roofline
from grader.models import ProblemMeta

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
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
        return self.match_score(query) is not None

    def match_score(self, query: str) -> int | None:
        """None unless every word of the query matches somewhere; higher for better places. A word scores by
        where it matches best: the whole name, then a prefix of it, a word of it ('row' in cpu_row_sum), a tag,
        the level or device, and last the description, so a name never ranks below a description."""
        words = query.lower().split()
        name = self.name.lower()
        parts = name.split("_")
        labels = [f"level{self.level}", f"l{self.level}", self.device, self.difficulty]
        total = 0
        for w in words:
            if w == name:
                score = 100
            elif name.startswith(w):
                score = 80
            elif any(part.startswith(w) for part in parts):
                score = 60
            elif w in name:
                score = 40
            elif w in self.tags:
                score = 30
            elif any(t.startswith(w) for t in self.tags) or any(x.startswith(w) for x in labels):
                score = 20
            elif any(w in t for t in self.tags):
                score = 10
            elif w in self.description.lower():
                score = 5
            else:
                return None
            total += score
        return total

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
