"""`grader prompt NAME`: a KernelBench-style prompt for one problem, ready for an LLM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.errors import UsageError
from grader.jail import backends
from grader.judge import problems
from grader.teach.prompt import build_prompt


def register(sub) -> None:
    p = sub.add_parser("prompt", help="print a KernelBench-style prompt for a problem",
                       description="Print the instructions, the a + b example (Model and a load_inline ModelNew) "
                                   "and the problem's architecture: paste it into an LLM, save the answer, "
                                   "then `grader check` it.")
    p.add_argument("name", help="bundled name (relu, level1/relu), a name in --problems-dir, or a path")
    p.add_argument("--problems-dir", help="folder of extra KernelBench-format problems")
    p.add_argument("--device", choices=["cuda", "cpu"],
                   help="kernel language asked for: CUDA, or C++ for the CPU (default: from the problem's metadata)")
    p.add_argument("--backend", choices=backends.NAMES, default="cuda",
                   help="kernel language asked for: load_inline CUDA/C++ (default), Triton, or CuTe DSL")
    p.add_argument("-o", "--output", help="write the prompt to this file instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = problems.resolve(args.name, args.problems_dir)
    problems.check_source(path)
    meta = problems.load_meta(path)
    text = build_prompt(path, meta, args.device, args.backend)
    if args.output:
        out = Path(args.output)
        try:
            out.write_text(text)
        except OSError as e:
            raise UsageError(f"{out}: cannot write the prompt: {e.strerror}; pass another -o path") from e
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
