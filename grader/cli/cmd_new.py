"""`grader new NAME [-o PATH]`: write a starter ModelNew file for a problem."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.errors import UsageError
from grader.jail import backends
from grader.judge import problems
from grader.teach.prompt import prompt_device
from grader.teach.template import render


def register(sub) -> None:
    p = sub.add_parser("new", help="write a starter solution (ModelNew with a kernel stub) for a problem",
                       description="Generate a starter solution from the problem: Model's __init__ copied so "
                                   "parameters match, forward's signature with the reference as comments, and a "
                                   "kernel stub to replace (load_inline, Triton or CuTe DSL: --backend).")
    p.add_argument("name", help="bundled name (relu, level1/relu), a name in --problems-dir, or a path")
    p.add_argument("-o", "--output", help="path to write (default: ./NAME_solution.py)")
    p.add_argument("--problems-dir", help="folder of extra KernelBench-format problems")
    p.add_argument("--device", choices=["cuda", "cpu"],
                   help="CUDA stub or C++ CPU stub (default: from the problem's metadata)")
    p.add_argument("--backend", choices=backends.NAMES, default="cuda",
                   help="kernel language of the stub: load_inline CUDA/C++ (default), Triton, or CuTe DSL")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = problems.resolve(args.name, args.problems_dir)
    problems.check_source(path)
    meta = problems.load_meta(path)
    device = prompt_device(meta, args.device)
    out = Path(args.output) if args.output else Path(f"{path.stem}_solution.py")
    if out.exists() and not args.force:
        raise UsageError(f"{out}: already exists; pass --force to overwrite it or -o to write elsewhere")
    if out.exists() and out.is_dir():
        raise UsageError(f"{out}: is a folder; pass -o with a file path")
    text = render(path, device=device, backend=args.backend)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as e:
        raise UsageError(f"{out}: cannot write the starter: {e.strerror}; pass another -o path") from e
    print(f"wrote {out} (starter for {path.stem}, {device}, {backends.label(backends.get(args.backend), device)})")
    print(f"next: write the kernel, then `grader check {out} --problem {path.stem}"
          + (f" --problems-dir {args.problems_dir}" if args.problems_dir else "") + "`")
    return 0
