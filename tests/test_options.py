"""One options model: `grader check` takes every GradeOptions field, and the sandbox choices come from the registry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import sandbox
from grader.cli import build_parser
from grader.cli.cmd_check import request_from_args
from grader.models import GradeOptions, GradeRequest

# `grader check` spells two options its own way
DESTS = {"timeouts": "timeout", "baseline_compile": "no_compile_baseline"}


def _check_parser():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices["check"]


def test_grader_check_takes_every_grading_option():
    dests = {a.dest for a in _check_parser()._actions}
    missing = [f for f in GradeOptions.model_fields if DESTS.get(f, f) not in dests]
    assert not missing, f"GradeOptions fields `grader check` has no option for: {missing}"


def test_the_cli_sets_every_grading_option_it_takes(tmp_path):
    args = build_parser().parse_args(
        ["check", "s.py", "--problem", "cpu_softmax", "--device", "cpu", "--sandbox", "local", "--trials", "3",
         "--timeout", "9", "--no-compile-baseline", "--strict", "--max-timing-s", "2", "--cpu-threads", "2",
         "--precision", "bf16", "--memory-limit-mb", "1000", "--gpu-memory-limit-mb", "900",
         "--problems-dir", str(tmp_path), "--profile"])
    req = request_from_args(args)
    defaults = GradeOptions()
    unchanged = [f for f in GradeOptions.model_fields if getattr(req, f) == getattr(defaults, f)]
    assert not unchanged, f"options the CLI parsed but did not pass on: {unchanged}"


def test_sandbox_choices_come_from_the_registry():
    assert sandbox.CHOICES == ["auto", *sandbox.BACKENDS]
    sub = next(a for a in _check_parser()._actions if a.dest == "sandbox")
    assert list(sub.choices) == sandbox.CHOICES
    with pytest.raises(ValidationError, match="unknown sandbox 'vm'"):
        GradeRequest(solution="s.py", problem="p", sandbox="vm")
