"""Pieces of the TUI that need no grading: highlighting, workspace files, settings, the device rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App

from grader.models import Report, Status
from tui.catalog import load_catalog
from tui.grading import GpuInfo, build_request, choose_device
from tui.settings import Settings, load_settings, save_settings
from tui.starter import builtin_starter, starter_source
from tui.widgets.editor import KernelEditor, cuda_query
from tui.workspace import Attempt, Workspace
from tui_testlib import FIXTURES


class EditorApp(App):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def compose(self):
        yield KernelEditor(self.text, id="ed")


async def test_cuda_inside_python_strings_is_highlighted():
    assert cuda_query() is not None, "tree-sitter-cuda (or -cpp) is a dependency of the TUI"
    src = (FIXTURES / "relu_cuda.py").read_text()
    app = EditorApp(src)
    async with app.run_test(size=(120, 40)):
        ed = app.query_one(KernelEditor)
        lines = src.splitlines()
        row = next(i for i, ln in enumerate(lines) if ln.startswith("__global__"))
        names = {n for (s, e, n) in ed._highlights[row]}
        assert "keyword" in names and "function" in names and "type.builtin" in names
        assert not any(n.startswith("string") for n in names)        # no longer one big string
        quote_row = next(i for i, ln in enumerate(lines) if ln.startswith("cuda_source = r"))
        assert any(n.startswith("string") for (s, e, n) in ed._highlights[quote_row])   # the r""" itself
        assert (quote_row, next(i for i in range(quote_row + 1, len(lines)) if lines[i] == '"""')) \
            in ed.inline_regions
        # Python outside the strings keeps Python highlighting.
        imp = next(i for i, ln in enumerate(lines) if ln.startswith("import torch"))
        assert any(n in ("include", "keyword") for (s, e, n) in ed._highlights[imp])
        # Editing keeps the map current.
        ed.insert("// note\n", (row, 0))
        assert any(n == "comment" for (s, e, n) in ed._highlights[row])


def test_workspace_history_roundtrip(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.write_solution("relu", "x = 1\n")
    assert ws.read_solution("relu") == "x = 1\n"
    assert ws.read_solution("nope") is None
    r = Report(status=Status.passed, message="ok", problem="relu", solution="s.py", device="cpu", speedup=1.5)
    h = ws.add_attempt("relu", Attempt.from_report(1, r, "src"))
    h = ws.add_attempt("relu", Attempt(number=h.next_number(), status="cancelled", source="src2"))
    again = ws.load_history("relu")
    assert [a.status for a in again.attempts] == ["passed", "cancelled"]
    assert again.best_speedup() == 1.5 and again.next_number() == 3
    ws.history_path("relu").write_text("{broken")
    assert ws.load_history("relu").attempts == []
    assert ws.history_path("relu").with_suffix(".json.broken").exists()


def test_settings_roundtrip_and_broken_file(tmp_path):
    p = tmp_path / "s.json"
    s = Settings(sandbox="local", trials=3)
    save_settings(s, p)
    assert load_settings(p)[0] == s
    p.write_text("not json")
    settings, warning = load_settings(p)
    assert settings == Settings() and "unreadable" in warning


def test_device_rule_matches_the_cli():
    cat = {p.name: p for p in load_catalog()}
    no_gpu, gpu = GpuInfo(False), GpuInfo(True, "NVIDIA H100 80GB HBM3")
    auto = Settings()
    assert choose_device(auto, cat["cpu_softmax"], no_gpu) == ("cpu", "")
    assert choose_device(auto, cat["relu"], gpu) == ("cuda", "")
    device, why = choose_device(auto, cat["relu"], no_gpu)
    assert device is None and "No CUDA GPU" in why
    assert choose_device(Settings(device="cpu"), cat["relu"], no_gpu) == ("cpu", "")


def test_request_is_what_grader_check_builds(tmp_path):
    from grader.cli.cmd_check import request_from_args
    from grader.cli import build_parser

    cat = {p.name: p for p in load_catalog()}
    sol = tmp_path / "solution.py"
    args = build_parser().parse_args(["check", str(sol), "--problem", str(cat["cpu_softmax"].path), "--device",
                                      "cpu", "--sandbox", "local", "--trials", "3", "--no-compile-baseline",
                                      "--max-timing-s", "2"])
    cli = request_from_args(args)
    ours = build_request(Settings(sandbox="local", trials=3, baseline_compile=False, max_timing_s=2),
                         cat["cpu_softmax"], sol, "cpu")
    assert ours == cli


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_starters_define_modelnew_and_parse(device):
    import ast

    cat = {p.name: p for p in load_catalog()}
    for name in ("cpu_softmax", "relu", "matmul"):
        p = cat[name]
        for text in (starter_source(name, p.path, p.meta, device), builtin_starter(name, p.path, p.meta, device)):
            tree = ast.parse(text)
            assert any(isinstance(n, ast.ClassDef) and n.name == "ModelNew" for n in tree.body)


def test_catalog_search_and_groups():
    cat = load_catalog()
    assert len(cat) >= 40
    hits = [p.name for p in cat if p.matches("cpu softmax")]
    assert hits == ["cpu_softmax", "cpu_softmax_backward"]  # every word matches, in any order
    assert [p.name for p in cat if p.matches("softmax backward cpu")] == ["cpu_softmax_backward"]
    assert all(p.level == 1 for p in cat if p.matches("level1"))
    softmax = next(p for p in cat if p.name == "cpu_softmax")
    flops, nbytes = softmax.work()
    assert flops == 5 * 256 * 2048 and nbytes == 8 * 256 * 2048
    assert softmax.floors() == []  # a CPU problem: no GPU's floor applies
    relu = next(p for p in cat if p.name == "relu")
    assert [name for name, _ in relu.floors()] == ["H100 SXM 80GB", "H200 141GB"]  # no GPU here: both, for reference
    assert [name for name, _ in relu.floors("NVIDIA H200")] == ["H200 141GB"]      # the GPU graded on
    assert all(ms > 0 for _, ms in relu.floors())
