"""Packaging beyond pyproject.toml: a wheel carries the problem library and the reference solutions.

They stay at the top of the checkout (the README grades solutions/cpu/... from there); building a wheel
copies them into grader/_bundled/, where grader.bundled looks first.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("problems", "solutions")


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's own folders
            return
        here = Path(__file__).resolve().parent
        for name in BUNDLED:
            dst = Path(self.build_lib) / "grader" / "_bundled" / name
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(here / name, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithLibrary})
