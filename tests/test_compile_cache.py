"""The compile cache's trusted side: keys, flag checks, entries that no longer match, LRU, the CLI."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from grader.judge.compile_cache import (BLOB, BuildRequest, CompileCache, CompileService, cache_key, hand_over, object_keys,
                                  open_regular, refused_flag)
from kgtest import ROOT, grader_env, run_grader

REQ = BuildRequest(name="kg_x", cpp_sources=["int f() { return 1; }"], functions=["f"], extra_cflags=["-O2"])
TOOLS = {"sandbox": "local", "torch": "2.13.0", "arch": "9.0"}


@pytest.mark.parametrize("change", [
    {"name": "kg_y"}, {"cpp_sources": ["int f() { return 2; }"]}, {"cuda_sources": ["__global__ void k() {}"]},
    {"functions": ["g"]}, {"extra_cflags": ["-O3"]}, {"extra_cuda_cflags": ["--use_fast_math"]},
    {"extra_ldflags": ["-lm"]}, {"extra_include_paths": ["/usr/include/x"]}, {"with_cuda": True},
    {"is_python_module": False}, {"with_pytorch_error_handling": False}, {"no_implicit_headers": True},
])
def test_every_argument_is_part_of_the_key(change):
    assert cache_key(REQ.model_copy(update=change), TOOLS) != cache_key(REQ, TOOLS)


@pytest.mark.parametrize("tools", [{**TOOLS, "arch": "8.0"}, {**TOOLS, "torch": "2.11.0"},
                                   {**TOOLS, "sandbox": "docker"}])
def test_the_toolchain_is_part_of_the_key(tools):
    assert cache_key(REQ, tools) != cache_key(REQ, TOOLS)


@pytest.mark.parametrize("flag", ["-fplugin=x.so", "-wrapper", "-B/tmp", "-specs=x", "@opts", "-o", "-o/tmp/x",
                                  "-Xcompiler=-fplugin=a", "-Wl,-T,script", "-Wl,--plugin,x", "-save-temps",
                                  "-O2;rm", "$(id)", "-O2 -MF/tmp/d", "--run", "-ccbin=/tmp/cc", "-optf=x"])
def test_flags_that_run_programs_or_write_elsewhere_are_refused(flag):
    assert refused_flag(REQ.model_copy(update={"extra_cflags": [flag]}))


@pytest.mark.parametrize("flag", ["-O3", "-march=native", "-DN=4", "-std=c++17", "-fopenmp", "--use_fast_math",
                                  "-Xptxas=-v", "-lineinfo", "-gencode=arch=compute_90,code=sm_90", "-lcublas",
                                  "-Wl,-rpath,/usr/lib", "--expt-relaxed-constexpr", "-Xcompiler", "-Wno-unused"])
def test_ordinary_flags_pass(flag):
    assert refused_flag(REQ.model_copy(update={"extra_cflags": [flag]})) is None


def test_a_key_or_unknown_field_from_the_worker_is_refused(tmp_path):
    service = CompileService.__new__(CompileService)  # answer() refuses before it needs a sandbox
    service.hits = service.builds = 0
    out = service.answer({"build": {**REQ.model_dump(), "key": "0" * 64}}, tmp_path, lambda: 10.0)
    assert out["ok"] is False and "bad argument key" in out["log"]


def put(cache: CompileCache, tmp_path, key: str, data: bytes) -> None:
    src = tmp_path / f"{key}.so"
    src.write_bytes(data)
    fd = os.open(src, os.O_RDONLY)
    try:
        cache.put(key, "kg_x", fd, 1.0)
    finally:
        os.close(fd)


def test_an_entry_changed_on_disk_is_dropped_not_loaded(tmp_path):
    cache = CompileCache(tmp_path / "c")
    put(cache, tmp_path, "a" * 64, b"library")
    assert cache.get("a" * 64).read_bytes() == b"library"
    (cache.entries / ("a" * 64) / BLOB).write_bytes(b"planted")
    assert cache.get("a" * 64) is None and not (cache.entries / ("a" * 64)).exists()


def test_least_recently_used_entries_go_first(tmp_path):
    cache = CompileCache(tmp_path / "c", max_bytes=2500)  # room for two entries of 1000 bytes and their records
    for k in "ab":
        put(cache, tmp_path, k * 64, b"x" * 1000)
        os.utime(cache.entries / (k * 64) / "meta.json", (1000 + ord(k), 1000 + ord(k)))
    assert cache.get("a" * 64) is not None   # a is now the most recently used
    put(cache, tmp_path, "c" * 64, b"x" * 1000)
    assert sorted(p.name[0] for p in cache.entries.iterdir()) == ["a", "c"]


def test_a_folder_others_can_write_is_not_used(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)
    cache = CompileCache(folder)
    put(cache, tmp_path, "a" * 64, b"library")
    assert cache.get("a" * 64) is None and not cache.entries.exists()


def test_hand_over_never_follows_links_the_worker_planted(tmp_path):
    src = tmp_path / "lib.so"
    src.write_bytes(b"library")
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "xchg").symlink_to(victim)
    fd = os.open(src, os.O_RDONLY)
    try:
        with pytest.raises(OSError):
            hand_over(fd, tmp_path / "xchg", "kg_x")
        real = tmp_path / "real"
        real.mkdir()
        folder = hand_over(fd, real, "kg_x")
        assert (real / folder / "kg_x.so").read_bytes() == b"library"
    finally:
        os.close(fd)
    assert not any(victim.iterdir())


def test_a_builder_output_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "ext.so").symlink_to("/etc/passwd")
    with pytest.raises(OSError):
        open_regular(tmp_path, "ext.so")


def test_cache_cli_info_and_clear(tmp_path):
    cache = CompileCache(tmp_path / "c")
    put(cache, tmp_path, secrets.token_hex(32), b"x" * 2048)
    info = run_grader("cache", "info", "--dir", str(tmp_path / "c"))
    assert info.returncode == 0 and "entries: 1" in info.stdout, info.stderr
    cleared = run_grader("cache", "clear", env={"KG_COMPILE_CACHE": str(tmp_path / "c")})
    assert cleared.returncode == 0 and "removed 1 entries" in cleared.stdout
    assert "entries: 0" in run_grader("cache", "info", "--dir", str(tmp_path / "c")).stdout


CUDA_REQ = REQ.model_copy(update={"cuda_sources": ["__global__ void k() {}"], "extra_cuda_cflags": ["-O3"]})


@pytest.mark.parametrize("change, main_same, cuda_same", [
    ({"cuda_sources": ["__global__ void k2() {}"]}, True, False), ({"extra_cuda_cflags": ["-O2"]}, True, False),
    ({"cpp_sources": ["int f() { return 2; }"]}, False, True), ({"extra_cflags": ["-O3"]}, False, True),
    ({"functions": ["g"]}, False, True), ({"name": "kg_y"}, False, False),
    ({"extra_include_paths": ["/usr/include/x"]}, False, False), ({"extra_ldflags": ["-lm"]}, True, True),
])
def test_object_keys_follow_only_what_goes_into_each_object(change, main_same, cuda_same):
    before, after = object_keys(CUDA_REQ, TOOLS), object_keys(CUDA_REQ.model_copy(update=change), TOOLS)
    assert (before["main.o"] == after["main.o"]) is main_same
    assert (before["cuda.cuda.o"] == after["cuda.cuda.o"]) is cuda_same
    assert set(object_keys(REQ, TOOLS)) == {"main.o"}


BUILD = """
import json, sys
from pathlib import Path
from grader.jail.builder import build
request, folder, reuse = json.loads(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
print(build(request, folder, reuse))
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_reused_object_is_linked_not_compiled_again(tmp_path):
    # An extension of one object, built once, then again from that object alone. ninja logs each object it
    # compiles (.ninja_log), so the second folder's log must not name main.o; the library it links must work.
    text = (ROOT / "tests" / "adversarial" / "solutions" / "cache_light_add.py").read_text()
    request = BuildRequest(name="kg_cache_light", cpp_sources=[text.split('"""')[1]], no_implicit_headers=True)

    def run_build(folder, reuse):
        out = subprocess.run([sys.executable, "-c", BUILD, request.model_dump_json(), str(folder), json_of(reuse)],
                             capture_output=True, text=True, env=grader_env({"MAX_JOBS": "1"}), timeout=1700)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout.strip().splitlines()[-1]

    first = tmp_path / "a" / "kg_cache_light"
    run_build(tmp_path / "a", {})
    assert "main.o" in compiled(first)
    lib = run_build(tmp_path / "b", {"main.o": str(first / "main.o")})
    assert "main.o" not in compiled(tmp_path / "b" / "kg_cache_light")
    check = ("import importlib.util, sys, torch; spec = importlib.util.spec_from_file_location('kg_cache_light', "
             "sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
             "a, b, out = torch.ones(3), torch.arange(3.0), torch.zeros(3); "
             "m.add(a.data_ptr(), b.data_ptr(), out.data_ptr(), 3); print(out.tolist())")
    out = subprocess.run([sys.executable, "-c", check, lib], capture_output=True, text=True, timeout=600)
    assert out.stdout.strip() == "[1.0, 2.0, 3.0]", out.stderr[-2000:]


def compiled(folder) -> list[str]:
    """The outputs ninja built in `folder`, from its log."""
    log = folder / ".ninja_log"
    return [line.split("\t")[3] for line in log.read_text().splitlines()[1:]] if log.exists() else []


def json_of(obj) -> str:
    import json
    return json.dumps(obj)
