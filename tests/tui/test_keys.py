"""The app keys work from every widget, the footer and the F1 help show them, and docs/tui.md lists them."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console
from textual.binding import Binding

from tui.app import KernelTUI
from tui.screens.main import MainScreen
from tui.screens.settings import SettingsScreen
from tui_testlib import app_on, wait_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tui.md"
# Keys of the app and the main screen that must reach them whatever has focus.
APP_KEYS = {"f6": "settings", "f7": "toggle_sidebar", "f2": "tab('problem')", "f3": "tab('solution')",
            "f4": "tab('history')", "f5": "tab('profile')", "f8": "next_error", "ctrl+r": "submit", "ctrl+t": "check",
            "ctrl+g": "cancel",
            "ctrl+s": "save", "ctrl+o": "focus_browser", "f1": "help"}


def _focusables(main: MainScreen) -> list[str]:
    return ["#search", "#problem-tree", "#editor", "#attempts", "#reference"]


async def _focus(pilot, main: MainScreen, selector: str) -> None:
    tab = {"#editor": "solution", "#attempts": "history", "#reference": "problem"}.get(selector)
    if tab:
        main.query_one("#tabs").active = tab
    main.query_one("#sidebar").display = True
    await pilot.pause()
    main.query_one(selector).focus()
    await pilot.pause()
    assert main.app.focused is main.query_one(selector)


async def test_settings_and_sidebar_keys_work_from_every_widget(make_app):
    async with app_on(make_app, "cpu_softmax") as (app, pilot):
        main = app.main
        for selector in _focusables(main):
            await _focus(pilot, main, selector)
            text_before = main.editor.text
            await pilot.press("f6")
            assert isinstance(app.screen, SettingsScreen), f"F6 did not open Settings from {selector}"
            await pilot.press("escape")
            assert app.screen is main
            await _focus(pilot, main, selector)
            sidebar = main.query_one("#sidebar")
            await pilot.press("f7")
            assert not sidebar.display, f"F7 did not hide the sidebar from {selector}"
            await pilot.press("f7")
            assert sidebar.display
            assert main.editor.text == text_before          # the keys never edited the text
            assert main.editor.selected_text == "", f"F6/F7 selected text in the editor from {selector}"


async def test_footer_and_help_show_the_app_keys_in_the_editor(make_app):
    async with app_on(make_app, "cpu_softmax", size=(140, 45)) as (app, pilot):
        main = app.main
        assert main.editor.has_focus
        active = main.active_bindings
        for key, action in APP_KEYS.items():
            assert key in active, f"{key} is not active in the editor"
            assert active[key].binding.action == action, f"{key} does {active[key].binding.action} in the editor"
        shown = {k for k, b in active.items() if b.binding.show}
        assert {"f6", "f7", "f8", "ctrl+r", "ctrl+t", "ctrl+g"} <= shown, shown
        for tab, widget in (("solution", "#editor"), ("history", "#attempts"), ("problem", "#problem-tree")):
            main.query_one("#tabs").active = tab
            main.query_one(widget).focus()
            await pilot.pause()
            assert _footer_keys(main, 140) >= {"ctrl+r", "ctrl+t", "ctrl+g", "f8", "ctrl+s", "ctrl+o", "f2", "f3",
                                               "f4", "f6", "f7", "f1"}, f"app keys missing from the footer at {widget}"
        main.editor.focus()

        await pilot.press("f1")
        await wait_for(pilot, lambda: bool(main.query("KeyPanel")), 5, "the F1 help panel")
        await pilot.pause()
        help_text = _render(main.query_one("KeyPanel BindingsTable").render_bindings_table())
        for b in _app_bindings():
            if b.show:
                assert b.description in help_text, f"F1 help lacks {b.key} {b.description}"
        await pilot.press("f1")
        await wait_for(pilot, lambda: not main.query("KeyPanel"), 5, "the help panel to close")


def _footer_keys(main, width: int) -> set[str]:
    """Keys whose footer entry is drawn whole within `width` columns and left of the palette key."""
    items = list(main.query("FooterKey"))
    right = min([width] + [k.region.x for k in items if k.key == "ctrl+p"])
    return {k.key for k in items if k.key != "ctrl+p" and k.region.width and k.region.right <= right}


def _render(table) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, record=True)
    console.print(table)
    return console.export_text()


def _app_bindings() -> list[Binding]:
    out = []
    for b in [*KernelTUI.BINDINGS, *MainScreen.BINDINGS]:
        out.append(b if isinstance(b, Binding) else Binding(*b))
    return out


def _doc_keys() -> dict[str, str]:
    """key -> description of docs/tui.md's `## Keys` table; 'F2 / F3 / F4' gives three keys."""
    text = DOCS.read_text()
    section = text.split("## Keys", 1)[1].split("\n## ", 1)[0]
    out = {}
    for row in re.findall(r"^\| (.+?) \| (.+?) \|$", section, re.M):
        keys, what = row
        if keys.strip() in ("key", "---"):
            continue
        for k in keys.split("/"):
            out[k.strip().lower()] = what
    return out


def test_docs_key_table_matches_the_bindings():
    docs = _doc_keys()
    bound = {}
    for b in _app_bindings():
        for k in b.key.split(","):
            bound[k.strip()] = b
    bound_keys = set(bound) | {"ctrl+p", "ctrl+q"}   # Textual's own: command palette and quit
    assert set(docs) == bound_keys, (f"in docs only: {sorted(set(docs) - bound_keys)}; "
                                     f"bound only: {sorted(bound_keys - set(docs))}")
    for key, b in bound.items():
        assert b.description and b.description.lower() in docs[key].lower(), \
            f"docs/tui.md describes {key} as {docs[key]!r}, the binding says {b.description!r}"
