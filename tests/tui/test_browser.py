"""The problem browser: search ranks names above descriptions, the arrows go where a student expects, and the
preview's shapes come from one long-lived describer process, cached per file content, off the UI thread."""

from __future__ import annotations

import psutil

from tui.catalog import load_catalog
from tui_testlib import wait_for

SIZE = (160, 48)


def _leaf(app):
    node = app.main.query_one("#problem-tree").cursor_node
    return node.data.name if node is not None and node.data is not None else None


async def _ready(pilot, app):
    await wait_for(pilot, lambda: app.main.is_mounted, 10, "the main screen")
    await pilot.pause()


def test_search_ranks_names_above_descriptions():
    catalog = load_catalog()
    ranked = [p.name for p in sorted((p for p in catalog if p.match_score("row") is not None),
                                     key=lambda p: -p.match_score("row"))]
    assert ranked[0] == "cpu_row_sum", ranked                     # a word of the name, before "rows" in a description
    assert "cpu_linear_relu" in ranked                            # description matches are still listed
    assert ranked.index("cpu_row_sum") < ranked.index("cpu_linear_relu")
    by_name = {p.name: p for p in catalog}
    assert by_name["relu"].match_score("relu") > by_name["leaky_relu"].match_score("relu")   # exact before part
    assert by_name["softmax"].match_score("soft") > by_name["cpu_softmax"].match_score("soft")  # prefix before part
    assert by_name["cpu_softmax"].match_score("softmax cpu") is not None   # every word must match somewhere
    assert by_name["relu"].match_score("relu cpu") is None


async def test_enter_in_search_opens_the_name_match(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("ctrl+o", *"row", "enter")
        assert _leaf(app) == "cpu_row_sum"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.problem is not None, 20, "the problem to open")
        assert app.main.problem.name == "cpu_row_sum"


async def test_down_from_search_moves_into_the_results(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        tree = app.main.query_one("#problem-tree")
        assert app.main.query_one("#search").has_focus              # where the app starts
        await pilot.press("down")
        assert tree.has_focus
        first = _leaf(app)
        assert first is not None                                    # a problem, not the "CPU track" header
        await pilot.press("down")
        assert _leaf(app) not in (None, first)
        # A query: Down lands on its best hit.
        await pilot.press("ctrl+o", *"row", "down")
        assert tree.has_focus and _leaf(app) == "cpu_row_sum"


async def test_first_down_after_tab_lands_on_a_problem(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("tab")
        assert app.main.query_one("#problem-tree").has_focus
        await pilot.press("down")
        assert _leaf(app) is not None, "the first Down stopped on a group header"
        await pilot.press("down", "up")
        assert _leaf(app) is not None


def _describers() -> list[psutil.Process]:
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "describe" in " ".join(p.cmdline()):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


async def test_browsing_fast_runs_one_describer_and_caches_per_file(make_app, tmp_path):
    from tui.widgets.problem_view import ProblemView

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        view = app.main.query_one(ProblemView)
        app.main.query_one("#problem-tree").focus()
        most = 0
        for _ in range(9):                                          # a student holding Down
            await pilot.press("down")
            most = max(most, len(_describers()))
        assert most <= 1, f"{most} describer processes at once while browsing"
        leaves = [n.data.name for n in _walk(app.main.query_one("#problem-tree").root) if n.data is not None]
        here = _leaf(app)
        assert here is not None
        await wait_for(pilot, lambda: view.inputs is not None and view.problem.name == here, 180,
                       "the shapes of the problem under the cursor")
        assert view.inputs.inputs and not view.inputs.note, view.inputs
        text = view.info_text()
        assert "MiB" in text or "KiB" in text, text                 # sizes beside the shapes

        # Back to the first problem: its shapes come from the cache, at once.
        await pilot.press("ctrl+o", *leaves[0], "enter")
        assert view.problem.name == leaves[0]
        await wait_for(pilot, lambda: view.inputs is not None, 180, "cached shapes")
        assert "working out" not in view.info_text()
    assert not _describers()                                        # quitting stops the describer


def _walk(node):
    for child in node.children:
        yield child
        yield from _walk(child)


async def test_shapes_are_cached_per_file_content(make_app, tmp_path):
    from tui import describer

    problem = tmp_path / "p.py"
    problem.write_text("import torch\nN = 64\nclass Model(torch.nn.Module):\n    def forward(self, x):\n"
                       "        return x\ndef get_inputs():\n    return [torch.randn(N, 8)]\n"
                       "def get_init_inputs():\n    return []\n")
    d = describer.Describer()
    try:
        first = d.describe(problem)
        assert first.inputs == ["(64, 8) float32"] and first.input_bytes == 64 * 8 * 4
        assert d.describe(problem) is first                         # same content: no second question
        problem.write_text(problem.read_text().replace("N = 64", "N = 128"))
        second = d.describe(problem)
        assert second.inputs == ["(128, 8) float32"]
        assert d.asked == 2
        # A problem that hangs costs its own timeout; the next one is answered by a fresh process.
        hang = tmp_path / "hang.py"
        hang.write_text("import time\nwhile True:\n    time.sleep(1)\n")
        slow = d.describe(hang, timeout=3)
        assert "took over" in slow.note
        assert d.describe(problem) is second
        problem.write_text(problem.read_text().replace("N = 128", "N = 32"))
        assert d.describe(problem).inputs == ["(32, 8) float32"]
    finally:
        d.close()
    assert not _describers()
