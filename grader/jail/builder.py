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


def build(request: dict, root: Path, reuse: dict[str, str] | None = None) -> Path:
    """Build the request's extension in root/NAME (where load_inline would); returns the library.
    Raises with the compiler's log.

    `reuse` maps object files (main.o, cuda.cuda.o) to copies built before from the same inputs
    (the grader's object keys): those are not compiled again, only linked."""
    from torch.utils import cpp_extension as ce

    from grader.protocol.messages import BuildRequest

    req = BuildRequest.model_validate(request)
    folder = root / req.name  # the same paths as a build in the worker, so compiler messages read the same
    # load_inline ends by importing the library; here it must not (static initialisers would run).
    ce._import_module_from_library = lambda *a, **k: None
    # ...nor touch torch's own folder (read-only here), where use_pch=False would delete a stale header.
    ce.remove_extension_h_precompiler_headers = lambda: None
    if reuse:
        ce._run_ninja_build = lambda build_directory, verbose, error_prefix: _build_reusing(
            Path(build_directory), f"{req.name}.so", reuse, error_prefix)
    folder.mkdir(parents=True, exist_ok=True)
    ce.load_inline(name=req.name, cpp_sources=list(req.cpp_sources), cuda_sources=list(req.cuda_sources) or None,
                   functions=req.functions, extra_cflags=req.extra_cflags, extra_cuda_cflags=req.extra_cuda_cflags,
                   extra_ldflags=req.extra_ldflags, extra_include_paths=req.extra_include_paths,
                   build_directory=str(folder), with_cuda=req.with_cuda, is_python_module=req.is_python_module,
                   with_pytorch_error_handling=req.with_pytorch_error_handling,
                   no_implicit_headers=req.no_implicit_headers, verbose=False, use_pch=False)
    return folder / f"{req.name}.so"


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
    msg = chan.recv()
    if msg.get("cmd") != "build":
        return 1
    reuse = msg.get("objects") or {}
    try:
        so = build(msg["request"], Path(os.environ["TORCH_EXTENSIONS_DIR"]), reuse)
        shutil.copyfile(so, exchange / "ext.so")
        for obj in ("main.o", "cuda.cuda.o"):  # for the grader's object cache
            if obj not in reuse and (so.parent / obj).is_file():
                shutil.copyfile(so.parent / obj, exchange / obj)
    except BaseException as e:  # a failed build is the answer, not a crash: the candidate gets the log
        chan.send({"ok": False, "log": f"{e}"[-20000:]})
        return 0
    chan.send({"ok": True, "log": ""})
    return 0


if __name__ == "__main__":
    sys.exit(main())
