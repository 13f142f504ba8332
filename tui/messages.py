"""Messages from worker threads to the UI: a worker posts one, a handler on the main screen shows it."""

from __future__ import annotations

from textual.message import Message

from grader.models import ProgressEvent, Report

from .catalog import ProblemInfo
from .describer import Inputs


class GradeProgress(Message):
    def __init__(self, event: ProgressEvent) -> None:
        super().__init__()
        self.event = event


class GradeEnded(Message):
    """A grading ended; the worker sets the problem and the attempt number it announced at the start."""

    problem: ProblemInfo | None = None
    number: int = 0


class GradeFinished(GradeEnded):
    def __init__(self, report: Report, source: str, solution_name: str) -> None:
        super().__init__()
        self.report = report
        self.source = source
        self.solution_name = solution_name


class GradeFailed(GradeEnded):
    """grade() refused the request (UsageError) or broke; `text` says why."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__()
        self.text = text
        self.source = source


class GradeCancelled(GradeEnded):
    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source


class CheckOutput(Message):
    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class CheckFinished(Message):
    def __init__(self, result, source: str) -> None:
        super().__init__()
        self.result = result
        self.source = source


class InputsDescribed(Message):
    """The shapes, dtypes and sizes of a problem's inputs, for the preview."""

    def __init__(self, problem: ProblemInfo, inputs: Inputs) -> None:
        super().__init__()
        self.problem = problem
        self.inputs = inputs
