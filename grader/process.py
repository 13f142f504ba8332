"""How the grader's own processes end."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """End this process with `code`: atexit's work done and what it printed flushed, but without the
    interpreter's teardown, which with torch imported takes about a second of a core (as long as importing
    torch did). Every `grader check` and every batch grading would pay it after its verdict is out."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed stream, a reader gone (`grader problems list | head`)
            pass
    os._exit(code)
