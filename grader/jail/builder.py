"""The builder: compiles one `load_inline` request inside a fresh sandbox, for the compile cache.

Started by the grader (grader/judge/compile_cache.py) as `python -m grader.jail.builder` in the same sandbox backend
as the workers, with no network and only its own folders writable. It receives one BuildRequest over its
channel, writes the sources the way `load_inline` does and runs torch's own build (ninja, the compilers)
on them. It never runs Python of a solution and never loads what it built (a library's static
initialisers are solution code): it only leaves `ext.so` in its exchange folder for the grader to read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import ValidationError

from grader.protocol.messages import BuildOrder, BuildReply

PCH_DIR = "kg-pch"      # beside the build folders: kg-pch/torch/extension.h.gch, searched before torch's headers
PCH_OUT = "pch.gch"     # a header made here, in the exchange folder, for the grader's cache


def build(order: BuildOrder, root: Path, exchange: Path) -> tuple[Path, str]:
    """Build the order's extension in root/NAME (where load_inline would); returns the library and what came of
    the precompiled header ("made", "given" or "none"). Raises with the compiler's log.

    `order.objects` maps object files (main.o, cuda.cuda.o) to copies built before from the same inputs (the
    grader's object keys): those are not compiled again, only linked. A header precompiled with the request's
    flags (`order.pch`) is put where g++ looks before torch's own headers; g++ ignores one that does not match
    the compile, so it can only make the build faster. `order.make_pch` makes one, in `exchange`; with
    `order.pch_only` nothing else is built (grader cache warm)."""
    from torch.utils import cpp_extension as ce

    req = order.request
    folder = root / req.name  # the same paths as a build in the worker, so compiler messages read the same
    # load_inline ends by importing the library; here it must not (static initialisers would run).
    ce._import_module_from_library = lambda *a, **k: None
    # ...nor touch torch's own folder (read-only here), where use_pch=False would delete a stale header.
    ce.remove_extension_h_precompiler_headers = lambda: None
    pch_dir = root / PCH_DIR
    made = False

    def run_ninja(build_directory: str, verbose: bool, error_prefix: str) -> None:
        nonlocal made
        here = Path(build_directory)
        # Made beside this build, on a core of its own, for the builds after it: made first and then used,
        # it would add its ~30 s to this one.
        making = _start_pch(here, exchange / PCH_OUT) if order.make_pch and "main.o" not in order.objects else None
        try:
            if order.pch_only:
                pass  # torch wrote build.ninja, whose flags the header takes; nothing of it is built
            elif order.objects:
                _build_reusing(here, f"{req.name}.so", order.objects, error_prefix)
            else:
                ninja(build_directory, verbose, error_prefix)
        except BaseException:
            if making is not None:  # the compiler's errors go back now, not after the header
                making.kill()
                making.wait()
            raise
        if making is not None:
            made = making.wait() == 0 and (exchange / PCH_OUT).is_file()

    ninja = ce._run_ninja_build
    ce._run_ninja_build = run_ninja
    if order.pch:
        _place_pch(pch_dir, Path(order.pch))
    folder.mkdir(parents=True, exist_ok=True)
    include = [str(pch_dir)] if order.pch else []
    ce.load_inline(name=req.name, cpp_sources=list(req.cpp_sources), cuda_sources=list(req.cuda_sources) or None,
                   functions=req.functions, extra_cflags=req.extra_cflags, extra_cuda_cflags=req.extra_cuda_cflags,
                   extra_ldflags=req.extra_ldflags, extra_include_paths=include + req.extra_include_paths,
                   build_directory=str(folder), with_cuda=req.with_cuda, is_python_module=req.is_python_module,
                   with_pytorch_error_handling=req.with_pytorch_error_handling,
                   no_implicit_headers=req.no_implicit_headers, verbose=False, use_pch=False)
    return folder / f"{req.name}.so", "made" if made else "given" if order.pch else "none"


def _torch_header() -> Path:
    from torch.utils import cpp_extension as ce

    return Path(ce._TORCH_PATH) / "include" / "torch" / "extension.h"


def _place_pch(folder: Path, pch: Path) -> None:
    """folder/torch/extension.h.gch, and torch's own header beside it: g++ takes a folder holding the .gch as
    the header's, so a source's second `#include <torch/extension.h>` (which the .gch cannot serve) reads it."""
    (folder / "torch").mkdir(parents=True, exist_ok=True)
    (folder / "torch" / "extension.h.gch").symlink_to(pch)
    (folder / "torch" / "extension.h").symlink_to(_torch_header())


def _start_pch(folder: Path, out: Path) -> subprocess.Popen | None:
    """g++ precompiling torch/extension.h with main.cpp's own flags (build.ninja's, less the extension's name,
    which the header never reads) into `out`, for later builds with the same flags through the grader's cache.
    Run in an empty folder, so no flag can reach a file of the build. None where g++ is not the compiler."""
    from torch.utils import cpp_extension as ce

    ninja = (folder / "build.ninja").read_text()
    var = {k: v for k, v in re.findall(r"^(cxx|cflags|post_cflags) = ?(.*)$", ninja, re.M)}
    if "cxx" not in var or not ce.check_compiler_is_gcc(var["cxx"]):
        return None
    flags = re.sub(r"-DTORCH_EXTENSION_NAME=\S+", "", f"{var.get('cflags', '')} {var.get('post_cflags', '')}")
    empty = folder.parent / f"{PCH_DIR}-work"
    empty.mkdir(exist_ok=True)
    return subprocess.Popen(["/bin/sh", "-c", f"{var['cxx']} -x c++-header {flags} {_torch_header()} -o {out}"],
                            cwd=empty, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _build_reusing(folder: Path, library: str, reuse: dict[str, str], error_prefix: str) -> None:
    """torch's build.ninja, with the reused objects copied in: compile the other objects, then link.

    ninja itself would recompile a copied object (it has no log entry for it), so the link command is
    taken from ninja and run here, the way ninja runs it."""
    wanted = re.findall(r"^build (\S+\.o):", (folder / "build.ninja").read_text(), re.M)
    for obj, src in reuse.items():
        if obj in wanted:
            shutil.copyfile(src, folder / obj)
    jobs = os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)
    steps = []
    missing = [o for o in wanted if o not in reuse]
    if missing:
        steps.append(["ninja", "-C", str(folder), "-j", jobs, *missing])
    link = subprocess.run(["ninja", "-C", str(folder), "-t", "commands", "-s", library], capture_output=True,
                          text=True)
    steps.append(["/bin/sh", "-c", link.stdout.strip().splitlines()[-1]] if link.returncode == 0 and link.stdout
                 else ["ninja", "-C", str(folder), library])
    for argv in steps:
        r = subprocess.run(argv, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{error_prefix}: {r.stdout}")


def main() -> int:
    from grader.jail.worker import _connect

    chan = _connect()
    exchange = Path(os.environ["KG_EXCHANGE"])
    try:
        order = BuildOrder.model_validate(chan.recv())
    except ValidationError:
        return 1
    try:
        so, pch = build(order, Path(os.environ["TORCH_EXTENSIONS_DIR"]), exchange)
        if not order.pch_only:
            shutil.copyfile(so, exchange / "ext.so")
            for obj in ("main.o", "cuda.cuda.o"):  # for the grader's object cache
                if obj not in order.objects and (so.parent / obj).is_file():
                    shutil.copyfile(so.parent / obj, exchange / obj)
    except BaseException as e:  # a failed build is the answer, not a crash: the candidate gets the log
        chan.send(BuildReply(ok=False, log=f"{e}"[-20000:]).model_dump())
        return 0
    chan.send(BuildReply(ok=True, pch=pch).model_dump())
    return 0


if __name__ == "__main__":
    sys.exit(main())
