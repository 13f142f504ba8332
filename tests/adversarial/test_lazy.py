"""Lazy or cached answers: work skipped on some calls must never pass as a correct, fast solution."""

from __future__ import annotations

from adv_helpers import MATMUL, SOLUTIONS, explain, grade, overruled_by_the_graders_clock


def test_returning_the_first_result_forever_is_incorrect():
    proc, report = grade(SOLUTIONS / "first_result.py")
    assert report["status"] == "incorrect", explain(report)


def test_empty_like_gets_no_leftover_answer():
    # The reference runs in another process, and the candidate's allocator is poisoned with NaN first.
    proc, report = grade(SOLUTIONS / "empty_like.py")
    assert report["status"] == "incorrect", explain(report)


def test_zeroing_the_inputs_in_place_is_caught_while_timed():
    proc, report = grade(SOLUTIONS / "zero_inputs.py")
    assert report["status"] == "incorrect", explain(report)
    assert "wrong_while_timed" in report["flags"]


def test_right_only_during_correctness_is_caught_while_timed():
    proc, report = grade(SOLUTIONS / "correct_then_lazy.py")
    assert report["status"] == "incorrect", explain(report)
    assert "wrong_while_timed" in report["flags"]


def test_cache_keyed_on_data_pointers_never_earns_a_trusted_speedup():
    proc, report = grade(SOLUTIONS / "ptr_cache.py", problem=MATMUL)
    if report["status"] == "passed":
        assert overruled_by_the_graders_clock(report), explain(report)
        assert report["speedup"] < 3, explain(report)
    else:
        assert report["status"] == "incorrect", explain(report)


def test_cache_keyed_on_input_content_is_caught_by_fresh_inputs():
    # Right on every input, but the timing loop's three input sets are each computed once and then
    # served from the cache: the grader's single calls on never-seen inputs show the real cost.
    proc, report = grade(SOLUTIONS / "content_cache.py", problem=MATMUL)
    assert report["status"] == "passed", explain(report)
    assert report["runtime"]["median_ms"] < 1.0, "the cache did not take (test is moot)"
    assert overruled_by_the_graders_clock(report), explain(report)
    # The cache claims thousands of x; what is reported instead is the fresh calls' figure (~1x, noisy
    # on a busy machine).
    assert report["speedup"] < 10, explain(report)
