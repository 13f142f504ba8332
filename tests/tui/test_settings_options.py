"""The TUI's settings offer every option of a grading (GradeOptions), and the request it builds carries them."""

from __future__ import annotations

from pathlib import Path

from grader.models import GradeOptions
from tui.grading import build_request
from tui.screens.settings import TIMEOUT_INPUTS, SettingsScreen

SIZE = (150, 60)


async def test_the_settings_offer_every_grading_option_and_the_request_carries_the_memory_limits(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        offered = {"timeouts" if w.id in TIMEOUT_INPUTS else w.id for w in screen.query("Input, Select, Switch")}
        assert set(GradeOptions.model_fields) <= offered, set(GradeOptions.model_fields) - offered
        screen.query_one("#memory_limit_mb").value = "1536"
        screen.query_one("#gpu_memory_limit_mb").value = "2048"
        screen.query_one("#cpu_threads").value = "2"
        screen.query_one("#precision").value = "bf16"
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, SettingsScreen)
        request = build_request(app.settings, app.catalog[0], Path("solution.py"), "cpu")
        assert (request.memory_limit_mb, request.gpu_memory_limit_mb) == (1536, 2048)
        assert (request.cpu_threads, request.precision) == (2, "bf16")

        await pilot.press("f6")
        screen = app.screen
        assert screen.query_one("#memory_limit_mb").value == "1536"   # shown again as saved
        screen.query_one("#memory_limit_mb").value = ""                # cleared: sized from the problem again
        await pilot.press("ctrl+s")
        assert build_request(app.settings, app.catalog[0], Path("solution.py"), "cpu").memory_limit_mb is None
