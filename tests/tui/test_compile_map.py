"""Compiler line numbers in load_inline's main.cpp / cuda.cu map back to the solution's editor lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.judge.compile_map import diagnostics, find_extensions, parse_log

from tui_testlib import FIXTURES

SOLUTION = '''import torch
from torch.utils.cpp_extension import load_inline

cuda_src = """
__global__ void k(float* y) {
    y[0] = oops;
}
torch::Tensor f(torch::Tensor x) { return x; }
"""

cpp_src = "torch::Tensor f(torch::Tensor x);"

ext = load_inline(name="my_ext", cpp_sources=cpp_src, cuda_sources=cuda_src,
                  functions=["f"])
'''


def test_generated_files_match_torch_load_inline(tmp_path, monkeypatch):
    """Write main.cpp and cuda.cu with torch's own load_inline (its compile step stubbed out) and compare."""
    from torch.utils import cpp_extension

    monkeypatch.setattr(cpp_extension, "_jit_compile", lambda *a, **k: None)
    ext = find_extensions(SOLUTION)[0]
    cpp_extension.load_inline(name=ext.name, cpp_sources=list(ext.cpp_text), cuda_sources=list(ext.cuda_text),
                              functions=ext.functions, build_directory=str(tmp_path))
    assert (tmp_path / "main.cpp").read_text() == ext.cpp_file
    assert (tmp_path / "cuda.cu").read_text() == ext.cuda_file


def test_cuda_line_maps_to_editor_line():
    ext = find_extensions(SOLUTION)[0]
    # cuda.cu: 3 include lines, then the string; `y[0] = oops;` is the string's 3rd line -> cuda.cu line 6.
    cu = ext.cuda_file.splitlines()
    assert cu[5].strip() == "y[0] = oops;"
    assert ext.origin("cuda.cu", 6)[0] == 6          # editor line 6 holds `    y[0] = oops;`
    assert ext.origin("cuda.cu", 1) is None           # implicit include
    log = "/root/.cache/torch_extensions/py311_cu128/my_ext/cuda.cu(6): error: identifier \"oops\" is undefined"
    (d,) = diagnostics(log, SOLUTION)
    assert (d.file, d.line, d.editor_line, d.ext) == ("cuda.cu", 6, 6, "my_ext")
    assert SOLUTION.splitlines()[d.editor_line - 1].strip() == "y[0] = oops;"


def test_main_cpp_line_and_column():
    src = (FIXTURES / "softmax_compile_error.py").read_text()
    log = ("/kg/build/tui_test_softmax_broken/main.cpp: In function 'at::Tensor softmax_rows(at::Tensor)':\n"
           "/kg/build/tui_test_softmax_broken/main.cpp:8:15: error: 'undeclared_max' was not declared in this scope\n"
           "    8 |     float m = undeclared_max(in);\n")
    (d,) = diagnostics(log, src)
    assert d.editor_line == 13
    line = src.splitlines()[12]
    assert line[d.editor_col - 1:].startswith("undeclared_max")


def test_one_line_source_keeps_its_column():
    # cpp_src is a one-line string: main.cpp line 2 is that string; its column offset is the literal's.
    ext = find_extensions(SOLUTION)[0]
    line, col = ext.origin("main.cpp", 2)
    assert line == 11
    assert SOLUTION.splitlines()[10][col - 1:].startswith("torch::Tensor f(")


def test_bindings_map_to_functions_argument():
    ext = find_extensions(SOLUTION)[0]
    n = len(ext.cpp_file.splitlines())
    assert ext.origin("main.cpp", n - 1)[0] == 14     # m.def(...) line -> `functions=["f"]`


def test_backslash_continuation_falls_back_to_text_search():
    src = 'from torch.utils.cpp_extension import load_inline\nsrc = """\n#define TWICE(x) \\\n    ((x) * 2)\nint f() { return nope; }\n"""\next = load_inline("e", cpp_sources=src)\n'
    ext = find_extensions(src)[0]
    main = ext.cpp_file.splitlines()
    i = next(k for k, ln in enumerate(main, 1) if "nope" in ln)
    assert ext.origin("main.cpp", i)[0] == 5


def test_list_and_concatenated_sources():
    src = ('from torch.utils.cpp_extension import load_inline\n'
           'a = """\nint a() { return 1; }\n"""\n'
           'b = """\nint b() { return bad; }\n"""\n'
           'ext = load_inline(name="two", cpp_sources=[a, b])\n')
    ext = find_extensions(src)[0]
    main = ext.cpp_file.splitlines()
    i = next(k for k, ln in enumerate(main, 1) if "bad" in ln)
    assert ext.origin("main.cpp", i)[0] == 6


def test_computed_sources_are_reported_not_guessed():
    src = 'from torch.utils.cpp_extension import load_inline\nsrc = open("k.cu").read()\next = load_inline("e", cpp_sources="", cuda_sources=src)\n'
    ext = find_extensions(src)[0]
    assert ext.cuda_text is None
    assert any("computed at run time" in p for p in ext.problems)


def test_python_traceback_lines_of_the_solution():
    log = ('Traceback (most recent call last):\n  File "/kg/files/1/problem.py", line 3, in <module>\n'
           '  File "/kg/files/0/solution.py", line 21, in forward\nRuntimeError: boom\n')
    ds = parse_log(log, "solution.py")
    assert [(d.file, d.editor_line) for d in ds] == [("solution.py", 21)]


@pytest.mark.parametrize("line,expect", [
    ("/b/e/main.cpp:12:3: error: expected ';' before '}' token", ("main.cpp", 12, 3, "error")),
    ("/b/e/cuda.cu(40): error: identifier \"q\" is undefined", ("cuda.cu", 40, None, "error")),
    ("/b/e/cuda.cu(7): warning #177-D: variable \"t\" was declared but never referenced",
     ("cuda.cu", 7, None, "warning")),
    ("/b/e/main.cpp:3:10: fatal error: nothere.h: No such file or directory", ("main.cpp", 3, 10, "error")),
])
def test_parse_compiler_formats(line, expect):
    (d,) = parse_log(line)
    assert (d.file, d.line, d.col, d.severity) == expect


def test_fixture_files_parse():
    # python_syntax_error.py is the one fixture meant not to parse (a grading stops at its Python).
    for f in FIXTURES.glob("*.py"):
        if f.name != "python_syntax_error.py":
            assert find_extensions(Path(f).read_text()), f
