"""`grader problems list`, `show NAME` and `lint [DIR]`: browse and check the problem library."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grader.errors import UsageError
from grader.judge import problems, roofline, sizing

from .display import count_text


def register(sub) -> None:
    p = sub.add_parser("problems", help="list the problem library or show one problem",
                       description="Browse the bundled problems and any --problems-dir folder of "
                                   "KernelBench-format files (metadata is optional).")
    psub = p.add_subparsers(dest="problems_command", required=True, metavar="ACTION")

    ls = psub.add_parser("list", help="list problems", description="List problems: the --problems-dir folder's "
                                                                  "first, then the bundled library.")
    ls.add_argument("--level", type=int, help="only this level (0 is the CPU track)")
    ls.add_argument("--tag", help="only problems with this tag (e.g. matmul, cpu, fusion)")
    ls.add_argument("--problems-dir", help="folder of extra KernelBench-format problems")
    ls.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    ls.set_defaults(func=run)

    sh = psub.add_parser("show", help="show one problem: source, inputs, metadata, roofline floor",
                         description="Show a problem's metadata, input shapes and dtypes, flops/bytes and "
                                     "the roofline floor on an H100, and its reference source.")
    sh.add_argument("name", help="bundled name (relu, level1/relu), a name in --problems-dir, or a path")
    sh.add_argument("--problems-dir", help="folder of extra KernelBench-format problems")
    sh.add_argument("--no-source", action="store_true", help="leave out the reference source")
    sh.set_defaults(func=run)

    li = psub.add_parser("lint", help="check that doing nothing fails every problem",
                         description="Run each problem's reference on the CPU at a reduced size and check that "
                                     "all zeros, a constant and returning an input each fail the comparison. "
                                     "Exit code 1 when a problem is weak or fails to run.")
    li.add_argument("dir", nargs="?", help="folder of KernelBench-format problems, searched recursively "
                                           "(default: the bundled library)")
    li.add_argument("--timeout", type=float, default=120.0, metavar="S", help="time limit per problem (default 120)")
    li.add_argument("--json", action="store_true", help="one JSON object per problem, one a line")
    li.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.problems_command == "list":
        return run_list(args)
    if args.problems_command == "lint":
        return run_lint(args)
    return run_show(args)


def run_lint(args: argparse.Namespace) -> int:
    from grader.judge import lint

    root = Path(args.dir) if args.dir else problems.BUNDLED
    if not root.is_dir():
        raise UsageError(f"{args.dir}: not a folder; pass a folder of KernelBench-format problems")
    files = []
    for f in sorted(root.rglob("*.py")):
        try:
            problems.check_source(f)
            files.append(f)
        except UsageError:
            continue  # helpers and solutions beside the problems
    if not files:
        raise UsageError(f"{root}: no KernelBench-format problems in this folder")

    def show(r: lint.LintResult) -> None:
        if args.json:
            print(r.model_dump_json(), flush=True)
            return
        what = {"clean": "ok", "weak": "WEAK: passes with " + ", ".join(r.passes)}.get(r.status, r.status.upper())
        name = str(Path(r.path).relative_to(root))
        print(f"{name:<60} {what}{'  (' + r.note + ')' if r.note else ''}  {r.seconds:.1f}s", flush=True)

    results = lint.lint_files(files, args.timeout, show)
    if not args.json:
        counts = {s: sum(r.status == s for r in results) for s in ("clean", "weak", "error", "timeout")}
        print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" of {len(results)} problems")
    return 0 if all(r.status == "clean" for r in results) else 1


def _where(e: problems.ProblemEntry) -> str:
    if e.source_dir == problems.BUNDLED:
        return str(e.path.relative_to(problems.BUNDLED.parent))
    return str(e.path)


def run_list(args: argparse.Namespace) -> int:
    entries = problems.list_problems(args.problems_dir, args.level, args.tag)
    if args.json:
        rows = [{"name": e.name, "level": e.level, "tags": e.tags, "path": str(e.path),
                 "difficulty": e.meta.difficulty if e.meta else None, "device": e.meta.device if e.meta else None,
                 "dtype": e.meta.dtype if e.meta else None, "metadata": e.meta is not None,
                 "error": e.error or None} for e in entries]
        print(json.dumps(rows, indent=1))
        return 0
    if not entries:
        what = " ".join(x for x in (f"level {args.level}" if args.level is not None else "",
                                    f"tag {args.tag!r}" if args.tag else "") if x)
        print(f"no problems{' with ' + what if what else ''}")
        return 0
    width = max(12, *(len(e.name) for e in entries)) + 1
    print(f"{'NAME':<{width}} {'LVL':>3}  {'DIFFICULTY':<10} {'DTYPE':<9} {'TAGS':<36} WHERE")
    for e in entries:
        lvl = "-" if e.level is None else str(e.level)
        if e.meta is not None:
            diff, dtype, tags = e.meta.difficulty, e.meta.dtype, ",".join(e.tags)
        else:
            diff, dtype, tags = "-", "-", "(metadata error)" if e.error else "(no metadata)"
        print(f"{e.name:<{width}} {lvl:>3}  {diff:<10} {dtype:<9} {tags[:36]:<36} {_where(e)}")
    broken = [e for e in entries if e.error]
    for e in broken:
        print(f"warning: {e.error}")
    print(f"{len(entries)} problem{'s' if len(entries) != 1 else ''}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    path = problems.resolve(args.name, args.problems_dir)
    problems.check_source(path)
    meta = problems.load_meta(path)
    out: list[str] = [f"problem    {path.stem}", f"file       {path}"]
    if meta is None:
        out.append(f"metadata   none (a plain KernelBench file; add {path.with_suffix('.json').name} "
                   "for tolerances, tags and a roofline floor)")
    else:
        out += [f"level      {meta.level}", f"difficulty {meta.difficulty}", f"device     {meta.device}",
                f"dtype      {meta.dtype}", f"tags       {', '.join(meta.tags) or '-'}"]
        if meta.atol is not None or meta.rtol is not None:
            out.append(f"tolerance  atol={meta.atol if meta.atol is not None else 'default'} "
                       f"rtol={meta.rtol if meta.rtol is not None else 'default'}")
        if meta.description:
            out.append(f"about      {meta.description}")
    consts = problems.module_constants(path)
    if consts:
        out.append("sizes      " + ", ".join(f"{k}={v}" for k, v in consts.items()))
    size = sizing.measure(path)
    out.append("inputs     " + ("; ".join(size.inputs) if size.inputs else "unknown"))
    out.append("init       " + ("; ".join(size.init_inputs) if size.init_inputs else "none"))
    if size.input_bytes is not None:
        outs = f", outputs {sizing.gb(size.output_bytes)}" if size.output_bytes is not None else ""
        out.append(f"size       inputs {sizing.gb(size.input_bytes)}{outs}")
    if size.note:
        out.append(f"note       {size.note}")
    if meta is not None:
        flops, nbytes = roofline.work(meta, path)
        out.append(f"work       {count_text(flops, 'FLOP')}, at least {count_text(nbytes, 'B')} moved"
                   + (f"  ({meta.flops} ; {meta.min_bytes})" if meta.flops or meta.min_bytes else ""))
        peaks = roofline.H100_SXM
        floor = roofline.floor_ms(meta, path, peaks)
        if floor is not None and meta.device != "cpu":  # no CPU peaks: a GPU's floor says nothing of a CPU problem
            compute = flops / (roofline.compute_peak(meta, peaks) * 1e12) * 1e3 if flops else 0.0
            memory = nbytes / (peaks.hbm_gbps * 1e9) * 1e3 if nbytes else 0.0
            bound = "compute" if compute >= memory else "memory"
            out.append(f"floor      {floor:.4g} ms on {peaks.name} ({bound} bound: compute {compute:.4g} ms, "
                       f"memory {memory:.4g} ms)")
    if not args.no_source:
        out += ["", "--- reference source " + "-" * 40, Path(path).read_text().rstrip()]
    print("\n".join(out))
    return 0


__all__ = ["register", "run", "UsageError"]
