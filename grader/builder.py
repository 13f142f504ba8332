"""The builder: compiles one `load_inline` request inside a fresh sandbox, for the compile cache.

Started by the grader (grader/compile_cache.py) as `python -m grader.builder` in the same sandbox backend
as the workers, with no network and only its own folders writable. It receives one BuildRequest over its
channel, writes the sources the way `load_inline` does and runs torch's own build (ninja, the compilers)
on them. It never runs Python of a solution and never loads what it built (a library's static
initialisers are solution code): it only leaves `ext.so` in its exchange folder for the grader to read.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def build(request: dict, folder: Path) -> Path:
    """Build the request's extension in `folder`; returns the library. Raises with the compiler's log."""
    from torch.utils import cpp_extension as ce

    from grader.compile_cache import BuildRequest

    req = BuildRequest.model_validate(request)
    # load_inline ends by importing the library; here it must not (static initialisers would run).
    ce._import_module_from_library = lambda *a, **k: None
    folder.mkdir(parents=True, exist_ok=True)
    ce.load_inline(name=req.name, cpp_sources=list(req.cpp_sources), cuda_sources=list(req.cuda_sources) or None,
                   functions=req.functions, extra_cflags=req.extra_cflags, extra_cuda_cflags=req.extra_cuda_cflags,
                   extra_ldflags=req.extra_ldflags, extra_include_paths=req.extra_include_paths,
                   build_directory=str(folder), with_cuda=req.with_cuda, is_python_module=req.is_python_module,
                   with_pytorch_error_handling=req.with_pytorch_error_handling,
                   no_implicit_headers=req.no_implicit_headers, verbose=False, use_pch=False)
    return folder / f"{req.name}.so"


def main() -> int:
    from grader.worker import _connect

    chan = _connect()
    exchange = Path(os.environ["KG_EXCHANGE"])
    msg = chan.recv()
    if msg.get("cmd") != "build":
        return 1
    try:
        so = build(msg["request"], Path(os.environ["TORCH_EXTENSIONS_DIR"]) / "ext")
        shutil.copyfile(so, exchange / "ext.so")
    except BaseException as e:  # a failed build is the answer, not a crash: the candidate gets the log
        chan.send({"ok": False, "log": f"{e}"[-20000:]})
        return 0
    chan.send({"ok": True, "log": ""})
    return 0


if __name__ == "__main__":
    sys.exit(main())
