"""`grader cache info|clear|warm`: the compile cache that gradings share (grader/judge/compile_cache.py)."""

from __future__ import annotations

import argparse
import shlex

import sandbox
from grader.errors import UsageError
from grader.judge.compile_cache import ENV_DIR, CompileCache, describe


def register(sub) -> None:
    p = sub.add_parser("cache", help="show, clear or warm the compile cache",
                       description=f"The compile cache holds built load_inline extensions, keyed by everything "
                                   f"that determines them. Folder: ${ENV_DIR}, else ~/.cache/kernel-grader/compile; "
                                   f"{ENV_DIR}=off disables it. `warm` precompiles torch/extension.h into it, so "
                                   f"that the first gradings on this machine build in seconds rather than a minute.")
    p.add_argument("action", choices=["info", "clear", "warm"])
    p.add_argument("--dir", help=f"the cache folder (default: ${ENV_DIR} or ~/.cache/kernel-grader/compile)")
    p.add_argument("--json", action="store_true", help="info as one JSON line")
    p.add_argument("--device", choices=["cuda", "cpu"],
                   help="warm: for CUDA or C++-only extensions (default: cuda when a GPU is visible, else cpu)")
    p.add_argument("--sandbox", choices=sandbox.CHOICES, default="auto",
                   help="warm: for gradings in this sandbox (default auto, as grader check)")
    p.add_argument("--cflags", default="-O3", metavar="FLAGS",
                   help="warm: the extra_cflags the solutions pass to load_inline, in one string (default -O3); "
                        "a build shares the header only with the same flags")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cache = CompileCache(args.dir)
    if args.action == "clear":
        print(f"removed {cache.clear()} entries from {cache.root}")
        return 0
    if args.action == "warm":
        return warm(args, cache)
    info = cache.info()
    print(info.model_dump_json() if args.json else describe(info))
    return 0


def warm(args: argparse.Namespace, cache: CompileCache) -> int:
    import torch

    from grader.judge import engine

    gpu = torch.cuda.is_available()
    device = args.device or ("cuda" if gpu else "cpu")
    if device == "cuda" and not gpu:
        raise UsageError("grader cache warm --device cuda: no CUDA GPU is visible here; warm the cache on the "
                         "machine that grades CUDA, or use --device cpu")
    cflags = shlex.split(args.cflags)
    ok, what = engine.warm_compile_cache(device, args.sandbox, cflags, cache)
    kind = "CUDA" if device == "cuda" else "C++-only"
    print(f"torch/extension.h precompiled for {kind} extensions with extra_cflags={cflags}: {what}\n"
          f"  compile cache: {cache.root}")
    return 0 if ok else 1
