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


def pytest_configure(config):
    # One compile cache for the whole session: many tests grade the same fixtures, and only the first
    # grading of each needs to compile. Tests of the cache itself point KG_COMPILE_CACHE at their own.
    if "KG_COMPILE_CACHE" not in os.environ:
        config._kg_compile_cache = tempfile.mkdtemp(prefix="kg-test-compile-cache-")
        os.environ["KG_COMPILE_CACHE"] = config._kg_compile_cache


def pytest_unconfigure(config):
    folder = getattr(config, "_kg_compile_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("KG_COMPILE_CACHE", None)
