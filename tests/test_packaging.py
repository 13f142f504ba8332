"""A non-editable install (`pip install .`) carries the problem library and the reference solutions.

.ci/wheel-check goes further (a fresh virtualenv, a whole grading); this test builds the wheel and runs
the installed copy from a folder away from the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from kgtest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]   # one test process: one wheel for all


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
    return next(out.glob("kernel_grader-*.whl"))


def test_wheel_holds_every_problem_and_solution(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("problems", "solutions"):
        files = [p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
        assert files
        missing = [f for f in files if f"grader/_bundled/{f}" not in names]
        assert not missing, missing[:5]


def test_installed_copy_finds_its_problems_away_from_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    where = subprocess.run([sys.executable, "-c", "import grader.bundled as b; print(b.folder('problems')); "
                            "print(b.folder('solutions'))"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert where.stdout.split() == [str(target / "grader/_bundled/problems"), str(target / "grader/_bundled/solutions")]
    shown = subprocess.run([sys.executable, "-m", "grader", "problems", "show", "relu"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "class Model" in shown.stdout
