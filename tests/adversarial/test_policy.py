"""Policy: static tripwires on the source (AST, never run) and the runtime kernel hint.

The static checks are unit-tested on snippets (fast); --strict and ProblemMeta.strict are checked on the
CLI (refused before any worker starts, so also fast); the runtime hint needs one compile.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from adv_helpers import ADD, FIXTURES, ROOT, SOLUTIONS, explain, grade
from grader.judge.policy import check_solution

# -O3: the flags of the suite's other builds, so that the one precompiled torch header serves this build too
KERNEL = '''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline
ext = load_inline(name="k", cpp_sources="torch::Tensor f(torch::Tensor a) { return a; }", functions=["f"],
                  extra_cflags=["-O3"])
'''

CASES = {
    # name: (source, flag expected, pattern kind expected)
    "monkeypatch_allclose": ("import torch\ntorch.allclose = lambda *a, **k: True\n", "tampering", "patches_module"),
    "monkeypatch_alias": ("import numpy as np\nnp.testing.assert_allclose = print\n", "tampering", "patches_module"),
    "patch_timer": ("import time\ntime.perf_counter = lambda: 0.0\n", "tampering", "patches_module"),
    "patch_event": ("import torch\ntorch.cuda.Event.elapsed_time = lambda s, o: 0.0\n", "tampering", "patches_module"),
    "setattr_patch": ("import torch\nsetattr(torch, 'allclose', lambda *a: True)\n", "tampering", "patches_module"),
    "replace_stdout": ("import sys\nsys.stdout = open('/dev/null', 'w')\n", "tampering", "patches_module"),
    "harness_import": ("import grader.jail.timing\n", "tampering", "harness_access"),
    "sys_modules": ("import sys\nt = sys.modules['grader.jail.timing']\n", "tampering", "harness_access"),
    "frames": ("import sys\nf = sys._getframe(1).f_back.f_locals\n", "tampering", "harness_access"),
    "gc_objects": ("import gc\nobjs = gc.get_objects()\n", "tampering", "harness_access"),
    "exec": ("exec('import os')\n", "tampering", "dynamic_code"),
    "dunder_import": ("m = __import__('o' + 's')\n", "tampering", "dynamic_code"),
    "importlib": ("import importlib\nm = importlib.import_module('socket')\n", "tampering", "dynamic_code"),
    "fake_report": ("print('{\"status\": \"passed\", \"speedup\": 9.9}')\n", "tampering", "verdict_text"),
    "subprocess": ("import subprocess\n", "risky_import", "risky_import"),
    "ctypes": ("import ctypes\n", "risky_import", "risky_import"),
    "socket": ("from socket import socket\n", "risky_import", "risky_import"),
    "threading": ("import threading\n", "risky_import", "risky_import"),
    "os_fork": ("import os\nos.fork()\n", "risky_import", "risky_call"),
    "proc": ("open('/proc/self/environ').read()\n", "reads_system_files", "system_path"),
    "home": ("open('/root/.ssh/id_rsa').read()\n", "reads_system_files", "system_path"),
    "stream": ("import torch\ns = torch.cuda.Stream()\n", "side_stream", "side_stream"),
    "graph": ("import torch\ng = torch.cuda.CUDAGraph()\n", "cuda_graph", "cuda_graph"),
    "compile": ("import torch\nf = torch.compile(lambda x: x)\n", "uses_torch_compile", "torch_compile"),
}


def _check(tmp_path: Path, body: str):
    path = tmp_path / "solution.py"
    path.write_text(body)
    return check_solution(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_named_pattern_is_flagged(tmp_path, name):
    source, flag, kind = CASES[name]
    result = _check(tmp_path, source + "\nclass ModelNew:\n    pass\n")
    assert flag in result.flags, result
    assert any(f.kind == kind and f.line >= 1 for f in result.findings), result.findings


def test_structural_patterns(tmp_path):
    calls_ref = _check(tmp_path, "import torch.nn as nn\nclass ModelNew(nn.Module):\n"
                                 "    def __init__(self):\n        super().__init__()\n        self.m = Model()\n")
    assert "calls_reference" in calls_ref.flags
    inherits = _check(tmp_path, "class ModelNew(Model):\n    pass\n")
    assert "calls_reference" in inherits.flags
    fallback = _check(tmp_path, KERNEL + textwrap.dedent("""
        class ModelNew(nn.Module):
            def forward(self, a, b):
                try:
                    return ext.f(a) + b
                except RuntimeError:
                    return torch.add(a, b)
        """))
    assert fallback.custom_kernel and "torch_fallback" in fallback.flags
    cache = _check(tmp_path, "class ModelNew:\n    def forward(self, a):\n        key = (a.data_ptr(), a._version)\n"
                             "        return self.cache.get(key)\n")
    assert "result_cache" in cache.flags
    heavy = _check(tmp_path, KERNEL + "class ModelNew(nn.Module):\n    def forward(self, a, b):\n"
                                      "        return torch.matmul(ext.f(a), b)\n")
    assert heavy.custom_kernel and "torch_compute_in_forward" in heavy.flags
    unused = _check(tmp_path, KERNEL + "class ModelNew(nn.Module):\n    def forward(self, a, b):\n"
                                       "        return a + b\n")
    assert not unused.custom_kernel and "no_custom_kernel" in unused.flags


def test_ordinary_tuning_is_not_tampering(tmp_path):
    ok = _check(tmp_path, KERNEL + textwrap.dedent("""
        import os
        os.environ["TORCH_CUDA_ARCH_LIST"] = "9.0"
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        class ModelNew(nn.Module):
            def forward(self, a, b):
                return ext.f(a) + b
        """))
    assert ok.custom_kernel and ok.flags == [], ok.findings


def test_honest_solutions_in_the_repository_raise_no_flag():
    files = sorted((ROOT / "solutions").rglob("*.py")) + [FIXTURES / "add_pass.py", FIXTURES / "kb_add_cuda.py"]
    flagged = {str(f.relative_to(ROOT)): check_solution(f).flags for f in files if check_solution(f).flags}
    assert not flagged, flagged


def test_hostile_suite_is_flagged():
    # Every hostile solution that tampers says so statically, too.
    for name in ("forge_compare.py", "tensor_subclass.py", "clock_patch.py", "harness_clock.py"):
        assert "tampering" in check_solution(SOLUTIONS / name).flags, name


def test_strict_refuses_tampering_before_running_anything():
    # Plain PyTorch under --strict is test_check_cli.test_strict_mode_refuses_plain_pytorch.
    proc, report = grade(SOLUTIONS / "forge_compare.py", "--strict")
    assert report["status"] == "policy_violation", explain(report)
    assert "strict mode refuses" in report["message"] and "monkeypatches" in report["message"]
    assert report["duration_s"] < 5, "a worker was started for a solution strict mode refuses"


def test_problem_metadata_strict_applies_without_the_flag(tmp_path):
    problem = tmp_path / "strict_add.py"
    shutil.copy(ADD, problem)
    problem.with_suffix(".json").write_text(json.dumps({"name": "strict_add", "level": 1, "strict": True,
                                                        "device": "cpu"}))
    proc, report = grade(FIXTURES / "relu_torch.py", problem=problem)
    assert report["status"] == "policy_violation", explain(report)
    assert proc.returncode == 1


def test_runtime_hint_when_the_custom_kernel_does_no_work(tmp_path):
    # Builds and calls a kernel (an identity), but the real work is PyTorch's own add: the profiler in
    # the worker sees every operator the reference runs run in the candidate too. A hint, reported, never a verdict.
    solution = tmp_path / "decoy_kernel.py"
    solution.write_text(KERNEL.replace('name="k"', 'name="kg_decoy"') + textwrap.dedent("""
        class ModelNew(nn.Module):
            def forward(self, a, b):
                return ext.f(a) + b
        """))
    assert check_solution(solution).custom_kernel
    proc, report = grade(solution)
    assert report["status"] == "passed", explain(report)
    assert "reference_kernels_remain" in report["flags"], explain(report)
