"""Fixtures of the TUI tests: an app on a throwaway workspace, no GPU, the local sandbox, short timings."""

from __future__ import annotations

import asyncio
import inspect
import time

import pytest

from tui.app import KernelTUI
from tui.grading import GpuInfo
from tui_testlib import fast_settings


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """KernelTUI rooted in tmp_path (workspace tmp_path/workspace), told there is no GPU."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()

    def make(**kw) -> KernelTUI:
        settings = kw.pop("settings", None) or fast_settings()
        gpu = kw.pop("gpu", GpuInfo(False, note="tests run without a GPU"))
        return KernelTUI(settings=settings, gpu=gpu, persist_settings=False, config_path=tmp_path / "settings.json",
                         base_dir=tmp_path, **kw)

    return make


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests with asyncio.run: no async plugin needed."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None
