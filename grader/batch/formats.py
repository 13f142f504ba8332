"""The result files other graders read, as pydantic models written from their published formats; every
export is built through these, so a file that does not fit the format is never written.

- Gradescope: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (results.json)
- PrairieLearn: https://prairielearn.readthedocs.io/en/latest/externalGrading/ (Grading results)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GsVisibility = Literal["hidden", "after_due_date", "after_published", "visible"]


class GradescopeTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: float | None = None
    max_score: float | None = None
    status: Literal["passed", "failed"] | None = None
    name: str = ""
    name_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    number: str | None = None
    output: str = ""
    output_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    tags: list[str] = Field(default_factory=list)
    visibility: GsVisibility = "visible"
    extra_data: dict = Field(default_factory=dict)


class GradescopeLeaderboardEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: float | str
    order: Literal["asc", "desc"] | None = None


class GradescopeResults(BaseModel):
    """/autograder/results/results.json"""

    model_config = ConfigDict(extra="forbid")
    score: float | None = None
    execution_time: float | None = Field(None, ge=0, description="seconds")
    output: str = ""
    output_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    test_output_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    test_name_format: Literal["text", "html", "simple_format", "md", "ansi"] | None = None
    visibility: GsVisibility | None = None
    stdout_visibility: GsVisibility | None = None
    extra_data: dict = Field(default_factory=dict)
    tests: list[GradescopeTest] = Field(default_factory=list)
    leaderboard: list[GradescopeLeaderboardEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scored(self):
        # The spec: "score" is optional only when every test carries its own.
        if self.score is None and any(t.score is None for t in self.tests):
            raise ValueError("score is required unless every test has one")
        return self


class PrairieLearnTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    points: float = Field(ge=0)
    max_points: float = Field(ge=0)
    message: str = ""
    output: str = ""

    @model_validator(mode="after")
    def _within(self):
        if self.points > self.max_points:
            raise ValueError(f"test {self.name!r}: points above max_points")
        return self


class PrairieLearnResults(BaseModel):
    """/grade/results/results.json"""

    model_config = ConfigDict(extra="forbid")
    gradable: bool = True
    score: float | None = Field(None, ge=0, le=1)
    message: str = ""
    output: str = ""
    format_errors: list[str] | str | None = None
    tests: list[PrairieLearnTest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scored(self):
        if self.gradable and self.score is None:
            raise ValueError("a gradable result needs a score in [0, 1]")
        return self
