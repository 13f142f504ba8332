"""The compile cache's trusted side: keys, flag checks, entries that no longer match, LRU, the CLI."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time

import pytest

from grader.jail.builder import PCH_OUT
from grader.judge.compile_cache import (BLOB, BuildRequest, CompileCache, CompileService, cache_key, hand_over, object_keys,
                                  open_regular, pch_key, refused_flag)
from grader.protocol.messages import BuildOrder
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
import sys
from pathlib import Path
from grader.jail import builder
from grader.protocol.messages import BuildOrder
order, folder = BuildOrder.model_validate_json(sys.argv[1]), Path(sys.argv[2])
if len(sys.argv) > 3:  # a header of the test's own precompiled in place of torch/extension.h
    builder._torch_header = lambda: Path(sys.argv[3])
print(*builder.build(order, folder, folder))
"""


def run_build(order: BuildOrder, folder, *header) -> list[str]:
    """The builder's build outside any jail, in a new process: [library, what came of the header]."""
    out = subprocess.run([sys.executable, "-c", BUILD, order.model_dump_json(), str(folder), *map(str, header)],
                         capture_output=True, text=True, env=grader_env({"MAX_JOBS": "1"}), timeout=1700)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1].split()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_reused_object_is_linked_not_compiled_again(tmp_path):
    # An extension of one object, built once, then again from that object alone. ninja logs each object it
    # compiles (.ninja_log), so the second folder's log must not name main.o; the library it links must work.
    text = (ROOT / "tests" / "adversarial" / "solutions" / "cache_light_add.py").read_text()
    request = BuildRequest(name="kg_cache_light", cpp_sources=[text.split('"""')[1]], no_implicit_headers=True)

    first = tmp_path / "a" / "kg_cache_light"
    run_build(BuildOrder(request=request), tmp_path / "a")
    assert "main.o" in compiled(first)
    lib, _ = run_build(BuildOrder(request=request, objects={"main.o": str(first / "main.o")}), tmp_path / "b")
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


def test_a_precompiled_header_is_made_with_the_build_flags_and_read_by_the_next_build(tmp_path):
    # The first build makes the header beside itself, from a stand-in for torch/extension.h that only defines a
    # macro; the second includes <torch/extension.h> and uses the macro in a static_assert. g++ takes the header
    # only when it was made with the second build's own flags (build.ninja's); otherwise it reads torch's real
    # header, which lacks the macro, and the build fails. Neither source needs torch, so both build in seconds.
    probe = tmp_path / "probe.h"
    probe.write_text("#define KG_PCH_PROBE 42\n")
    first = BuildRequest(name="kg_pch_a", cpp_sources=["int kg_pch_first = 1;"], no_implicit_headers=True,
                         extra_cflags=["-O0"])
    _, made = run_build(BuildOrder(request=first, make_pch=True), tmp_path / "a", probe)
    assert made == "made" and (tmp_path / "a" / PCH_OUT).stat().st_size > 0
    second = first.model_copy(update={"name": "kg_pch_b", "cpp_sources": [
        '#include <torch/extension.h>\nstatic_assert(KG_PCH_PROBE == 42, "not read");']})
    assert run_build(BuildOrder(request=second, pch=str(tmp_path / "a" / PCH_OUT)), tmp_path / "b")[1] == "given"


def test_a_header_only_order_precompiles_the_header_and_builds_nothing(tmp_path):
    # grader cache warm's order. The stand-in header is tiny, so this precompiles in a moment.
    probe = tmp_path / "probe.h"
    probe.write_text("#define KG_PCH_PROBE 42\n")
    request = BuildRequest(name="kg_warm", cpp_sources=[""], extra_cflags=["-O3"])
    library, made = run_build(BuildOrder(request=request, make_pch=True, pch_only=True), tmp_path, probe)
    assert made == "made" and (tmp_path / PCH_OUT).stat().st_size > 0
    folder = tmp_path / "kg_warm"
    assert (folder / "build.ninja").is_file(), "the header takes its flags from torch's build file"
    assert not os.path.exists(library) and compiled(folder) == [] and not list(folder.glob("*.o"))


def test_builds_wait_for_the_header_a_warm_is_making(tmp_path):
    cache = CompileCache(tmp_path / "c")
    key = secrets.token_hex(32)
    assert cache.wait_made(key, 30) is None  # nothing being made: no wait
    started = threading.Event()

    def warm():
        with cache.making(key):
            started.set()
            time.sleep(1)
            put(cache, tmp_path, key, b"h" * 4096)

    thread = threading.Thread(target=warm)
    thread.start()
    started.wait()
    t0 = time.monotonic()
    assert cache.wait_made(key, 0.2) is None  # gave up: the build goes on without it
    made = cache.wait_made(key, 30)
    thread.join()
    assert made is not None and made.read_bytes() == b"h" * 4096 and time.monotonic() - t0 >= 0.9


def test_cache_warm_cli(tmp_path):
    # tests/conftest.py warms the session's cache at its start; asked again (after it, if it is still at work),
    # the header is there.
    session = os.environ.get("KG_COMPILE_CACHE")
    if session and session != "off":
        again = run_grader("cache", "warm", "--device", "cpu", "--sandbox", "local", "--dir", session)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "extra_cflags=['-O3']: already in the compile cache" in again.stdout
    refused = run_grader("cache", "warm", "--device", "cpu", "--sandbox", "local", "--cflags=-O2 -I/etc",
                         "--dir", str(tmp_path))
    assert refused.returncode == 1 and "could name files" in refused.stdout, refused.stdout + refused.stderr
    assert not (tmp_path / "v1" / "entries").exists() or not list((tmp_path / "v1" / "entries").iterdir())
    import torch

    if not torch.cuda.is_available():
        cuda = run_grader("cache", "warm", "--device", "cuda", "--dir", str(tmp_path))
        assert cuda.returncode == 2 and cuda.stderr.count("\n") == 1 and "no CUDA GPU is visible" in cuda.stderr


@pytest.mark.parametrize("change", [{"extra_cflags": ["-O3"]}, {"with_cuda": True}, {"cuda_sources": ["x"]}])
def test_the_precompiled_header_follows_the_flags_of_main_cpp(change):
    assert pch_key(REQ.model_copy(update=change), TOOLS) not in (None, pch_key(REQ, TOOLS))
    assert pch_key(REQ, {**TOOLS, "torch": "2.11.0"}) != pch_key(REQ, TOOLS)
    # the sources and the name only go into main.o: every build with these flags shares the header
    assert pch_key(REQ.model_copy(update={"name": "kg_y", "cpp_sources": ["int g();"]}), TOOLS) == pch_key(REQ, TOOLS)


@pytest.mark.parametrize("change", [
    {"extra_cflags": ["-include", "main.cpp"]}, {"extra_cflags": ["-includemain.cpp"]},
    {"extra_cflags": ["-imacros", "x"]}, {"extra_cflags": ["-Wp,-include,main"]}, {"extra_cflags": ["-I/tmp"]},
    {"extra_cflags": ["-DX=a.h"]}, {"extra_cflags": ["-iquote", "."]}, {"extra_include_paths": ["/usr/include"]},
    {"no_implicit_headers": True},
])
def test_no_header_is_shared_where_a_flag_could_name_a_file(change):
    # A header made under `-include main.cpp` would carry one solution's code into every build with its flags.
    assert pch_key(REQ.model_copy(update=change), TOOLS) is None
