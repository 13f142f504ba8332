"""kernel-tui: a terminal app for writing, checking and grading KernelBench `ModelNew` solutions.

Everything that grades goes through `grader.judge.engine.grade()`, the same call the CLI makes; the app only
builds a `GradeRequest` and shows the `ProgressEvent`s and the `Report`.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
