"""ASSIGNMENT.toml: what a class is graded on. Validated by `Assignment`; docs/batch.md shows its JSON Schema."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import UsageError
from ..models import SandboxName, Timeouts

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]  # Gradescope's four


class LinearRubric(BaseModel):
    """Performance points rise linearly with the speedup: none at `zero_at`, all at `full_at` and above."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["linear"] = "linear"
    zero_at: float = Field(0.1, ge=0, description="speedup that earns no performance points (0.1 = 10x slower)")
    full_at: float = Field(1.2, gt=0, description="speedup that earns all of them")
    against: Literal["eager", "compile"] = Field("eager", description="the reference timing the speedup is over")

    @model_validator(mode="after")
    def _ordered(self):
        if self.full_at <= self.zero_at:
            raise ValueError(f"full_at ({self.full_at}) must be above zero_at ({self.zero_at})")
        return self

    def fraction(self, speedup: float) -> float:
        return min(1.0, max(0.0, (speedup - self.zero_at) / (self.full_at - self.zero_at)))


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speedup: float = Field(ge=0, description="at this speedup or above ...")
    fraction: float = Field(ge=0, le=1, description="... this fraction of the performance points")


class StepRubric(BaseModel):
    """Thresholds: the highest step reached gives its fraction of the performance points."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["steps"] = "steps"
    steps: list[Step] = Field(min_length=1)
    against: Literal["eager", "compile"] = "eager"

    @field_validator("steps")
    @classmethod
    def _sorted(cls, steps: list[Step]) -> list[Step]:
        return sorted(steps, key=lambda s: s.speedup)

    def fraction(self, speedup: float) -> float:
        return max((s.fraction for s in self.steps if speedup >= s.speedup), default=0.0)


Rubric = Annotated[LinearRubric | StepRubric, Field(discriminator="kind")]


class ProblemEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    problem: str = Field(description="bundled problem name, or a path (relative to ASSIGNMENT.toml) of a "
                                     "KernelBench-format file")
    name: str = Field("", description="column and solution file name (NAME.py); default: the problem's file stem")
    correctness: float = Field(ge=0, description="points for a correct solution")
    performance: float = Field(0, ge=0, description="points the rubric hands out by speedup; only for correct "
                                                    "solutions")
    rubric: Rubric | None = Field(None, description="default: the assignment's rubric")
    visibility: Visibility = Field("visible", description="who sees this problem's result (hidden tests)")

    @field_validator("name")
    @classmethod
    def _plain(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", name):
            raise ValueError(f"{name!r} is not a plain name (letters, digits, _ . -); it names files and columns")
        return name


class LatePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    percent_per_day: float = Field(0, ge=0, le=100, description="taken off the score per late day (a started day "
                                                                 "counts)")
    grace_days: int = Field(0, ge=0, description="late days without a penalty")
    max_days: int | None = Field(None, ge=0, description="later than this many days scores zero")


class Grading(BaseModel):
    """How each solution is graded: the same settings as `grader check`."""

    model_config = ConfigDict(extra="forbid")
    device: Literal["cuda", "cpu"] = "cuda"
    sandbox: SandboxName = "auto"
    trials: int = Field(5, ge=1, le=100)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    max_timing_s: float = Field(10.0, gt=0)
    compile_baseline: bool = Field(True, description="time torch.compile of the reference too")
    strict: bool = False
    memory_limit_mb: int | None = None
    retime_every: int = Field(20, ge=1, description="re-time the baselines after this many gradings on a GPU to "
                                                   "catch drift")
    require_trusted_timing: bool = Field(True, description="no performance points when the grader's cross-checks "
                                                           "disagree with the solution's timings")


class Show(BaseModel):
    """What students see of their results (Gradescope visibilities)."""

    model_config = ConfigDict(extra="forbid")
    performance: Visibility = Field("visible", description="the performance tests (speedups)")
    leaderboard: bool = Field(True, description="write an anonymous leaderboard")


class Canvas(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_column: Literal["ID", "SIS User ID", "SIS Login ID"] = Field(
        "SIS Login ID", description="the Canvas column the folder names (student ids) go into")


class Assignment(BaseModel):
    """The whole of ASSIGNMENT.toml."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="assignment title; the gradebook's column names start with it")
    due: datetime = Field(description="due date, a TOML date-time with an offset (e.g. 2026-03-01T23:59:00-06:00)")
    problems: list[ProblemEntry] = Field(min_length=1)
    rubric: Rubric = Field(default_factory=LinearRubric, description="default speedup-to-points rubric")
    late: LatePolicy = Field(default_factory=LatePolicy)
    grading: Grading = Field(default_factory=Grading)
    show: Show = Field(default_factory=Show)
    canvas: Canvas = Field(default_factory=Canvas)
    extensions: dict[str, float] = Field(default_factory=dict, description="student id -> extra days before the "
                                                                          "late policy applies")
    problems_dir: str | None = Field(None, description="folder of extra problems (relative to ASSIGNMENT.toml)")

    @field_validator("due")
    @classmethod
    def _aware(cls, due: datetime) -> datetime:
        return due if due.tzinfo else due.replace(tzinfo=timezone.utc)

    @model_validator(mode="after")
    def _unique_names(self):
        names = [p.name for p in self.problems]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"two problems are named {sorted(dup)[0]!r}; give each a distinct `name`")
        return self

    def rubric_of(self, entry: ProblemEntry) -> LinearRubric | StepRubric:
        return entry.rubric or self.rubric

    @property
    def max_points(self) -> float:
        return sum(p.correctness + p.performance for p in self.problems)


def load(path: Path) -> Assignment:
    """Read and validate ASSIGNMENT.toml; every mistake is one line naming the file and the field."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path}: no such assignment file")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read: {e}")
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML: {e}")
    for p in data.get("problems", []) if isinstance(data.get("problems"), list) else []:
        if isinstance(p, dict) and isinstance(p.get("problem"), str) and not p.get("name"):
            p["name"] = Path(p["problem"]).stem
    try:
        assignment = Assignment.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("linear", "steps"))) or "(top level)"
        raise UsageError(f"{path}: {where}: {err['msg']} (see docs/batch.md for the format)")
    base = path.resolve().parent
    for p in assignment.problems:  # a path is relative to the assignment file, a bare name is bundled
        if p.problem.endswith(".py") or "/" in p.problem:
            p.problem = str((base / p.problem).resolve())
    if assignment.problems_dir:
        assignment.problems_dir = str((base / assignment.problems_dir).resolve())
    return assignment
