import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

import pytest


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    # Tests marked `slow` (they compile, most of them at -O3) after the rest: at the session's start the warm below
    # makes the -O3 header on one core for about a minute and those builds wait for it, so the other core should
    # have tests that build nothing. A stable sort, the same in every test process (xdist requires it).
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)
    if _cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU: run on the H100 through the device tool")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pytest_xdist_auto_num_workers(config):
    # `-n auto` (pyproject's addopts): one test process per core this run may use, each pinned to its core
    # below. A grading runs its timed loops on one core, so two of them side by side do not share one.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})
    # One compile cache for the whole session (xdist's workers inherit it from the controller, which sets it
    # first): many tests grade the same fixtures, and only the first grading of each extension and of each
    # problem's torch.compile baseline compiles. Tests of the cache itself point KG_COMPILE_CACHE at their own.
    if "KG_COMPILE_CACHE" not in os.environ:
        config._kg_compile_cache = tempfile.mkdtemp(prefix="kg-test-compile-cache-")
        os.environ["KG_COMPILE_CACHE"] = config._kg_compile_cache
    if FLOOD_LOCKS not in os.environ:
        config._kg_flood_locks = tempfile.mkdtemp(prefix="kg-test-floods-")
        os.environ[FLOOD_LOCKS] = config._kg_flood_locks
    if not worker and os.environ["KG_COMPILE_CACHE"] != "off":
        _start_warm(config)


def _start_warm(config):
    """`grader cache warm` into the session's compile cache, beside the workers' start and collection: without
    it the session's first C++ builds each parse torch/extension.h (about a minute of a loaded core), and one of
    them makes the precompiled header for the rest. Builds that start while it runs wait for it."""
    from kgtest import ROOT, grader_env

    with open(os.path.join(os.environ[FLOOD_LOCKS], "warm.log"), "w") as log:
        config._kg_warm = subprocess.Popen([sys.executable, "-m", "grader", "cache", "warm", "--sandbox", "local"],
                                           cwd=ROOT, env=grader_env(), stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT)


def pytest_unconfigure(config):
    warm = getattr(config, "_kg_warm", None)
    if warm is not None:
        warm.kill()  # a session that compiled nothing need not wait for it
        warm.wait()
    for attr, var in (("_kg_compile_cache", "KG_COMPILE_CACHE"), ("_kg_flood_locks", FLOOD_LOCKS)):
        folder = getattr(config, attr, None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            os.environ.pop(var, None)


FLOOD_LOCKS = "KG_TEST_FLOOD_LOCKS"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # A test marked `floods` (a fork bomb: hundreds of processes until a watchdog reaps them) runs while no
    # other test does, setup and teardown included: beside one, a test's jailed worker could not fork (a
    # kernel process limit) or took over 10 s to. Every other test holds the machine lock shared. Both pass
    # the gate first, so a flood waiting for the shared holders goes next rather than behind a stream of them.
    folder = os.environ.get(FLOOD_LOCKS)
    if not folder:
        yield
        return
    flood = item.get_closest_marker("floods") is not None
    with open(os.path.join(folder, "gate"), "a") as gate, open(os.path.join(folder, "machine"), "a") as machine:
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(machine, fcntl.LOCK_EX if flood else fcntl.LOCK_SH)
        fcntl.flock(gate, fcntl.LOCK_UN)
        yield
