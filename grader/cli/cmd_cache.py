"""`grader cache info|clear`: the compile cache that gradings share (grader/judge/compile_cache.py)."""

from __future__ import annotations

import argparse

from grader.judge.compile_cache import ENV_DIR, CompileCache, describe


def register(sub) -> None:
    p = sub.add_parser("cache", help="show or clear the compile cache",
                       description=f"The compile cache holds built load_inline extensions, keyed by everything "
                                   f"that determines them. Folder: ${ENV_DIR}, else ~/.cache/kernel-grader/compile; "
                                   f"{ENV_DIR}=off disables it.")
    p.add_argument("action", choices=["info", "clear"])
    p.add_argument("--dir", help=f"the cache folder (default: ${ENV_DIR} or ~/.cache/kernel-grader/compile)")
    p.add_argument("--json", action="store_true", help="info as one JSON line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cache = CompileCache(args.dir)
    if args.action == "clear":
        print(f"removed {cache.clear()} entries from {cache.root}")
        return 0
    info = cache.info()
    print(info.model_dump_json() if args.json else describe(info))
    return 0
