"""Grade KernelBench problems on the GPU through the real grader, beside KernelBench's own eval of the same pair.

    python bench/kernelbench_sweep.py [--level 1] [--largest 20] [--only 19_ReLU,23_Softmax]
        [--trials 5] [--max-timing-s 1] [--no-compile] [--kernelbench-for all|none|19_ReLU,...]
        [--kb-perf-trials 100] [--budget-s 450] [--sandbox local] [--out sweep.md]

Problems come from ../shared/kernelbench/levelN (or --kernelbench-dir, or $KG_KERNELBENCH_DIR). They are sized on the meta device
(no memory, no GPU) and the --largest N by input plus output bytes are taken, ties by name; --only picks by
name instead. Each is graded with `grader.judge.engine.grade` (jailed workers, outputs handed over on the GPU),
then, for the problems --kernelbench-for names, with bench/kb_eval.py: KernelBench's published method
(5 seeded correctness trials, 100 CUDA-event timing trials with an L2 flush, eager and torch.compile
baselines) in its own process on the same problem and solution.

The solution is the one under solutions/ that SOLUTIONS names (an honest CUDA kernel); where there is
none, a stand-in ModelNew that inherits the reference's forward, which exercises the pipeline (hand-over,
comparison, timing) at the problem's real sizes and says so in the table ('stand-in').

Prints a line per problem, then a table: problem, solution, verdict, input and output GB, our wall time,
the hand-over used, our runtime/eager/compile ms, KernelBench's verdict, runtime/eager/compile ms and wall
time, and the ratio of the two wall times. --budget-s stops starting problems after that many seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.judge.engine import grade  # noqa: E402
from grader.models import GradeRequest  # noqa: E402

SOLUTIONS = {"19_ReLU": ROOT / "solutions" / "level1" / "relu.py"}  # problem stem -> honest CUDA solution

STAND_IN = '''"""Stand-in solution (bench/kernelbench_sweep.py): no CUDA solution exists for this problem, so ModelNew
runs the reference's own forward. It exercises the grading pipeline at the problem's real sizes."""
import sys

if "Model" not in globals():  # in the grader's worker the problem is the module kg_problem; KernelBench's
    Model = sys.modules["kg_problem"].Model  # eval executes this file beside the problem's own code


class ModelNew(Model):
    pass
'''


def size_on_meta(path: Path) -> tuple[int, int]:
    """(input bytes, output bytes) of one call, worked out on the meta device: no memory, no GPU."""
    import torch

    spec = importlib.util.spec_from_file_location(f"kb_size_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = torch.nn.Module.cuda = lambda self, *a, **k: self  # files that call .cuda()
    try:
        spec.loader.exec_module(mod)
        with torch.device("meta"):
            inputs = mod.get_inputs()
            out = mod.Model(*mod.get_init_inputs())(*inputs)
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved
    outs = out if isinstance(out, (tuple, list)) else [out]
    nbytes = lambda ts: sum(t.numel() * t.element_size() for t in ts if isinstance(t, torch.Tensor))  # noqa: E731
    return nbytes(inputs), nbytes(outs)


def pick(folder: Path, largest: int, only: set[str] | None) -> list[tuple[Path, int, int]]:
    sized = []
    for path in sorted(folder.glob("*.py")):
        if only and path.stem not in only:
            continue
        try:
            sized.append((path, *size_on_meta(path)))
        except Exception as e:  # a problem the meta device cannot run: sized by its inputs alone, if at all
            print(f"  {path.stem}: not sized on meta ({type(e).__name__}: {str(e)[:80]})", flush=True)
            sized.append((path, 0, 0))
    if only:
        return sized
    return sorted(sized, key=lambda r: (-(r[1] + r[2]), r[0].stem))[:largest]


def solution_for(problem: Path, scratch: Path) -> tuple[Path, str]:
    honest = SOLUTIONS.get(problem.stem)
    if honest is not None:
        return honest, f"solutions/{honest.relative_to(ROOT / 'solutions')}"
    path = scratch / f"standin_{problem.stem}.py"
    path.write_text(STAND_IN)
    return path, "stand-in"


def kernelbench(problem: Path, solution: Path, args) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "kb_eval.py"), str(problem), str(solution),
           "--trials", str(args.trials), "--perf-trials", str(args.kb_perf_trials)]
    if args.no_compile:
        cmd.append("--no-compile")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kb-ext-") as build:  # its own compile, as ours gets
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TORCH_EXTENSIONS_DIR": build})
    wall = time.perf_counter() - t0
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        out = {"correct": False, "message": f"kb_eval died ({proc.returncode}): {proc.stderr.strip()[-300:]}"}
    out["wall_s"] = round(wall, 1)
    return out


def fmt(x, nd=3) -> str:
    if x is None:
        return "—"
    return f"{x:.{nd}g}" if isinstance(x, float) else str(x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernelbench-dir", type=Path,
                    default=Path(os.environ.get("KG_KERNELBENCH_DIR", ROOT.parent / "shared" / "kernelbench")))
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--largest", type=int, default=20, help="grade the N largest problems (input + output bytes)")
    ap.add_argument("--only", help="comma-separated problem names (file stems) instead of --largest")
    ap.add_argument("--trials", type=int, default=5, help="correctness trials, ours and KernelBench's")
    ap.add_argument("--max-timing-s", type=float, default=1.0, help="cap of each of our timing loops")
    ap.add_argument("--no-compile", action="store_true", help="no torch.compile baseline, ours or KernelBench's")
    ap.add_argument("--kernelbench-for", default="all",
                    help="'all', 'none', or comma-separated problem names to also run KernelBench's eval on")
    ap.add_argument("--kb-perf-trials", type=int, default=100)
    ap.add_argument("--budget-s", type=float, default=450, help="start no problem after this many seconds")
    ap.add_argument("--sandbox", default="local", choices=["auto", "local", "docker"])
    ap.add_argument("--out", type=Path, help="also write the table as markdown here (rows as .json beside it)")
    args = ap.parse_args(argv)

    folder = args.kernelbench_dir / f"level{args.level}"
    if not folder.is_dir():
        print(f"{folder}: no KernelBench problems there; pass --kernelbench-dir (the folder holding level1/)",
              file=sys.stderr)
        return 2
    only = set(args.only.split(",")) if args.only else None
    kb_for = {"all": None, "none": set()}.get(args.kernelbench_for, set(args.kernelbench_for.split(",")))
    problems = pick(folder, args.largest, only)
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    print(f"{len(problems)} problems of level {args.level} on {device}; sandbox {args.sandbox}", flush=True)
    rows, start = [], time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kb-sweep-") as scratch:
        for path, in_b, out_b in problems:
            if time.monotonic() - start > args.budget_s:
                rows.append({"problem": path.stem, "verdict": "not run (budget)"})
                continue
            solution, label = solution_for(path, Path(scratch))
            req = GradeRequest(solution=str(solution), problem=str(path), device="cuda", sandbox=args.sandbox,
                               trials=args.trials, max_timing_s=args.max_timing_s,
                               baseline_compile=not args.no_compile)
            t0 = time.perf_counter()
            report = grade(req)
            ours = time.perf_counter() - t0
            row = {"problem": path.stem, "solution": label, "verdict": report.status.value,
                   "in_gb": in_b / 1e9, "out_gb": out_b / 1e9, "our_s": round(ours, 1),
                   "handover": report.versions.get("handover", "?"), "runtime_ms": report.runtime_ms,
                   "eager_ms": report.baseline_ms, "compile_ms": report.baseline_compile_ms,
                   "message": report.message[:200]}
            if kb_for is None or path.stem in kb_for:
                kb = kernelbench(path, solution, args)
                row.update(kb_verdict="passed" if kb.get("correct") else "failed", kb_runtime_ms=kb.get("runtime_ms"),
                           kb_eager_ms=kb.get("eager_ms"), kb_compile_ms=kb.get("compile_ms"), kb_s=kb["wall_s"],
                           ratio=round(ours / kb["wall_s"], 2) if kb["wall_s"] else None, kb_message=kb["message"])
            rows.append(row)
            print(f"  {path.stem}: {row['verdict']} in {ours:.1f}s ({row['handover']}); "
                  f"KernelBench: {row.get('kb_verdict', 'not run')} in {fmt(row.get('kb_s'))}s; {row['message'][:120]}",
                  flush=True)
    cols = [("problem", "problem"), ("solution", "solution"), ("verdict", "verdict"), ("in_gb", "in GB"),
            ("out_gb", "out GB"), ("our_s", "our s"), ("handover", "handover"), ("runtime_ms", "ms"),
            ("eager_ms", "eager ms"), ("compile_ms", "compile ms"), ("kb_verdict", "KB verdict"),
            ("kb_runtime_ms", "KB ms"), ("kb_eager_ms", "KB eager ms"), ("kb_compile_ms", "KB compile ms"),
            ("kb_s", "KB s"), ("ratio", "our s / KB s")]
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(k)) for k, _ in cols) + " |" for r in rows]
    passed = sum(r.get("verdict") == "passed" for r in rows)
    summary = f"{passed}/{len(rows)} passed in {time.monotonic() - start:.0f}s on {device}"
    print("\n".join(lines) + "\n" + summary)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n\n" + summary + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
