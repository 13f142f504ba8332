import os
import shutil
import tempfile

import pytest


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
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


def pytest_unconfigure(config):
    folder = getattr(config, "_kg_compile_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("KG_COMPILE_CACHE", None)
