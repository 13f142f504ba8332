"""Where the bundled problem library and reference solutions are.

In a checkout (and an editable install) they are the checkout's own problems/ and solutions/. A wheel
carries copies in grader/_bundled/ (setup.py puts them there), since nothing beside the package
in site-packages is the grader's.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    """'problems' or 'solutions': the installed copy when there is one, else the checkout's folder."""
    installed = _HERE / "_bundled" / name
    return installed if installed.is_dir() else _HERE.parent / name
