"""One grading of a batch, in its own process: `python -m grader.batch.task SPEC.json RESULT.json`.

Trusted code (the solution runs in the sandboxed workers this process starts, as in `grader check`). It runs
apart from the batch so that whatever goes wrong in one grading (a crash, a hang the batch has to kill, a
worker the kernel will not let go) stays in that grading's row. Progress goes to stdout as JSON lines; the
outcome is written to RESULT.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from ..errors import UsageError
from ..models import GradeRequest, ProgressEvent, Report
from ..process import exit_now


class TaskOutcome(BaseModel):
    report: Report | None = None
    error: str = ""        # bad input the engine refused (UsageError): a problem or grading setting at fault


def main(spec_path: str, result_path: str) -> int:
    from grader.judge.engine import grade

    from .exports import write_text

    req = GradeRequest.model_validate_json(Path(spec_path).read_text())

    def emit(ev: ProgressEvent) -> None:
        print(ev.model_dump_json(exclude_none=True), flush=True)

    try:
        outcome = TaskOutcome(report=grade(req, emit))
    except UsageError as e:
        outcome = TaskOutcome(error=str(e))
    write_text(Path(result_path), outcome.model_dump_json())
    return 0


if __name__ == "__main__":
    exit_now(main(*sys.argv[1:3]))
