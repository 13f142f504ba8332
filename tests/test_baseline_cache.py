"""The reference's torch.compile artifacts kept between gradings of one problem (grader/judge/baseline_cache.py):
a real second grading reuses them, the key follows what the compiled graph depends on, and neither packing
nor unpacking follows a link or leaves the folder."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from rich.console import Console

from grader.cli.display import summary
from grader.jail.backends import JIT_FOLDER
from grader.judge import baseline_cache
from grader.judge.compile_cache import CompileCache
from grader.models import Report
from kgtest import FIXTURES, report_of, run_grader

TOOLS = {"sandbox": "local", "torch": "2.13.0", "arch": ""}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_second_grading_of_a_problem_reuses_the_reference_torch_compile(tmp_path):
    # A compile cache of its own, so the first grading misses; a solution in plain PyTorch, so the only
    # compiler that runs is the reference's torch.compile.
    env = {"KG_COMPILE_CACHE": str(tmp_path / "cache")}
    args = ("check", str(FIXTURES / "class" / "add_torch.py"), "--problem", str(FIXTURES / "add_problem.py"),
            "--device", "cpu", "--sandbox", "local", "--trials", "2", "--max-timing-s", "1", "--json")
    reports = []
    for _ in range(2):
        proc = run_grader(*args, env=env, timeout=1700)
        reports.append(report_of(proc.stdout, proc.stderr))
    first, second = reports
    for r in reports:
        assert r["status"] == "passed", r["message"]
        assert r["baseline_compile_ms"] > 0 and r["speedup_compile"] is not None
    assert first["baseline_compile_cached"] is False
    assert second["baseline_compile_cached"] is True
    # The text report says where the figure's compiled code came from.
    shown = {}
    for name, r in (("first", first), ("second", second)):
        console = Console(width=200, record=True)
        console.print(summary(Report.model_validate(r)))
        shown[name] = next(line for line in console.export_text().splitlines() if line.lstrip().startswith("torch.compile "))
    assert "from the cache" in shown["second"] and "from the cache" not in shown["first"], shown


def test_the_key_follows_the_problem_its_sizes_dtype_device_threads_and_toolchain(tmp_path):
    problem = tmp_path / "p.py"
    problem.write_text("x = 1\n")
    base = dict(problem=problem, dims={"N": 4}, precision=None, device="cpu", threads=1, tools=TOOLS)
    key = baseline_cache.key(**base)
    assert key == baseline_cache.key(**base)
    other = tmp_path / "q.py"
    other.write_text("x = 2\n")
    for change in ({"problem": other}, {"dims": {"N": 8}}, {"precision": "bf16"}, {"device": "cuda"},
                   {"threads": 2}, {"tools": {**TOOLS, "torch": "2.11.0"}}, {"tools": {**TOOLS, "sandbox": "docker"}}):
        assert baseline_cache.key(**{**base, **change}) != key, change


def test_packing_keeps_plain_files_and_never_follows_links(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    (tmp_path / "secret-dir").mkdir()
    (tmp_path / "secret-dir" / "key").write_text("host key")
    jit = tmp_path / "xchg" / JIT_FOLDER
    (jit / "inductor" / "fxgraph").mkdir(parents=True)
    (jit / "inductor" / "fxgraph" / "entry").write_bytes(b"graph")
    (jit / "inductor" / "kernel.so").write_bytes(b"\x7fELF")
    (jit / "inductor" / "kernel.so").chmod(0o755)
    (jit / "link-to-file").symlink_to(secret)
    (jit / "link-to-dir").symlink_to(tmp_path / "secret-dir")
    os.mkfifo(jit / "fifo")
    cache = CompileCache(tmp_path / "cache")
    assert baseline_cache.harvest(cache, "k" * 64, tmp_path / "xchg", 1.0)

    fresh = tmp_path / "xchg2"
    fresh.mkdir()
    assert baseline_cache.seed(cache, "k" * 64, fresh)
    got = sorted(str(p.relative_to(fresh / JIT_FOLDER)) for p in (fresh / JIT_FOLDER).rglob("*"))
    assert got == ["inductor", "inductor/fxgraph", "inductor/fxgraph/entry", "inductor/kernel.so"]
    assert (fresh / JIT_FOLDER / "inductor" / "fxgraph" / "entry").read_bytes() == b"graph"
    assert os.access(fresh / JIT_FOLDER / "inductor" / "kernel.so", os.X_OK)


def test_a_jit_folder_that_is_a_link_or_empty_is_not_kept(tmp_path):
    cache = CompileCache(tmp_path / "cache")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_text("x")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / JIT_FOLDER).symlink_to(tmp_path / "elsewhere")
    assert not baseline_cache.harvest(cache, "a" * 64, tmp_path / "a", 1.0)
    (tmp_path / "b" / JIT_FOLDER / "empty").mkdir(parents=True)
    assert not baseline_cache.harvest(cache, "b" * 64, tmp_path / "b", 1.0)
    assert not baseline_cache.harvest(cache, "c" * 64, tmp_path / "nothing-here", 1.0)
    assert cache.info().entries == 0


def test_unpacking_an_entry_that_points_outside_its_folder_is_refused(tmp_path):
    cache = CompileCache(tmp_path / "cache")
    blob = tmp_path / "evil.tar"
    with tarfile.open(blob, "w") as tar:
        for name, kind in (("../escaped", tarfile.REGTYPE), ("inductor/up", tarfile.SYMTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc"
            tar.addfile(info, io.BytesIO(b""))
    fd = os.open(blob, os.O_RDONLY)
    try:
        cache.put("e" * 64, "torch.compile baseline", fd, 1.0)
    finally:
        os.close(fd)
    xchg = tmp_path / "xchg"
    xchg.mkdir()
    assert not baseline_cache.seed(cache, "e" * 64, xchg)
    assert not (tmp_path / "escaped").exists() and not (xchg / "escaped").exists()
    assert not (xchg / JIT_FOLDER).exists()
