"""The compile cache under attack: another solution's grading must never load what a hostile one planted.

The gradings share one cache folder of their own (not the session's), graded in new processes each. The honest
solution is solutions/cache_light_add.py, whose extension includes no torch header and so builds in seconds."""

from __future__ import annotations

import hashlib
import json

import pytest

from adv_helpers import SOLUTIONS, explain, grade, render
from sandbox.local import isolation

HONEST = SOLUTIONS / "cache_light_add.py"

# Each test grades two or three solutions, compiling some: minutes on a busy 2-core machine.
pytestmark = [pytest.mark.skipif(isolation() != "bwrap", reason="the cache is off without the bwrap jail"),
              pytest.mark.slow, pytest.mark.timeout(1800),
              pytest.mark.xdist_group("compile-cache-attacks")]   # one test process: the tests share one cache


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("compile-cache")


def snapshot(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "lock"}


def graded(solution, cache, *args):
    # A generous limit: what is tested is where the build comes from, and a busy machine compiles slowly.
    proc, report = grade(solution, "--timeout", "1500", *args, env={"KG_COMPILE_CACHE": str(cache)})
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    return report, [e["message"] for e in events if e["phase"] == "compile" and e["kind"] == "end"]


@pytest.fixture(scope="module")
def honest_twice(cache):
    first = graded(HONEST, cache)
    second = graded(HONEST, cache)
    return first, second


def test_second_grading_in_a_new_process_loads_the_cached_build(honest_twice, cache):
    (first, first_msgs), (second, second_msgs) = honest_twice
    assert first["status"] == "passed" and second["status"] == "passed", explain(second)
    assert first["compile_cached"] is False and first_msgs == ["compiled"]
    assert second["compile_cached"] is True and second_msgs == ["compiled (cached)"]
    assert len(list((cache / "v1" / "entries").iterdir())) == 1


def test_same_extension_name_with_other_code_gets_its_own_build(honest_twice, cache, tmp_path):
    # the honest extension's name and flags, but a - b: keyed on the name, it would load the honest binary
    text = HONEST.read_text()
    hostile = tmp_path / "same_name.py"
    hostile.write_text(text.replace("a[i] + b[i]", "a[i] - b[i]"))
    assert hostile.read_text() != text
    report, _ = graded(hostile, cache)
    assert report["status"] == "incorrect", explain(report)
    assert report["compile_cached"] is False
    again, _ = graded(HONEST, cache)
    assert again["status"] == "passed" and again["compile_cached"] is True, explain(again)


def test_writes_into_the_cache_and_a_swapped_exchange_folder_change_no_entry(honest_twice, cache, tmp_path):
    before = snapshot(cache)
    solution = render("cache_writer.py", tmp_path, CACHE=cache, HONEST=HONEST.read_text())
    report, _ = graded(solution, cache)
    # The grader would not copy the library through the link the solution put in place of its exchange folder.
    assert report["status"] == "compile_error", explain(report)
    assert "cannot be handed over" in report["message"] + report["compile_log"]
    assert snapshot(cache) == before
    again, _ = graded(HONEST, cache)
    assert again["status"] == "passed" and again["compile_cached"] is True, explain(again)


@pytest.mark.parametrize("flags", [["-O2", "-fplugin=/kg/w/tmp/p.so"], ["-O2", "-Xcompiler", "-o/kg/w/tmp/x.so"],
                                   ["-O2;", "touch", "/tmp/pwned"]])
def test_flags_that_would_make_the_build_run_or_write_elsewhere_are_refused(flags, cache, tmp_path):
    before = snapshot(cache)
    report, _ = graded(render("cache_build_flags.py", tmp_path, FLAGS=flags), cache)
    assert report["status"] == "compile_error", explain(report)
    assert "refused" in report["message"], explain(report)
    assert snapshot(cache) == before


def test_the_tui_compile_check_answers_from_what_a_grading_cached(honest_twice, cache, monkeypatch):
    from tui.compile_check import CompileCheck

    monkeypatch.setenv("KG_COMPILE_CACHE", str(cache))
    result = CompileCheck(HONEST.read_text(), sandbox="local").run()
    assert result.ok and result.message == "compiles (cached)", result
