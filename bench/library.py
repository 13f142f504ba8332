"""Grade every reference solution against its problem through the real grader, on any GPU (or the CPU track).

    python bench/library.py [OUT.md] [--only relu,matmul] [--level 1] [--jobs 8] [--compile-baseline]
                            [--resume] [--budget-s 480] [--write-doc docs/problems.md]
    python bench/library.py ALL.md --merge a.json b.json      # join runs, no GPU needed

Prints one line per problem as it finishes, then a table (problem, verdict, speedup vs eager and vs
torch.compile, runtime, roofline fraction, achieved TFLOP/s and GB/s) and the median speedup vs eager of
levels 1 and 2, writes the table as markdown to OUT.md (default library.md) and the raw rows to OUT.json,
which --resume reads to skip problems already graded. --write-doc DOC replaces the table between the
`<!-- LIBRARY-TABLE -->` markers of DOC (docs/problems.md) with the table of every row in OUT.json.

Speed: each grading compiles its solution with load_inline (tens of seconds of CPU), so gradings run
--jobs at a time. The engine takes a machine-wide lock per GPU (grader/judge/device_lock.py) from the
correctness phase to the end, so the compiles overlap while correctness checks, timings and baselines
run one grading at a time and never measure each other. torch.compile baselines are off unless
--compile-baseline (each costs an inductor compile under that lock). --budget-s stops starting new
gradings after that many seconds (default 480, so that a run ends within a 10-minute command limit);
the rest are listed as 'not run' and the same command with --resume grades them.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import statistics
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.judge import problems  # noqa: E402
from grader.judge.engine import grade  # noqa: E402
from grader.models import GradeRequest, Phase, ProgressEvent, Timeouts  # noqa: E402

COLUMNS = ["problem", "level", "verdict", "speedup vs eager", "speedup vs compile", "runtime ms", "eager ms",
           "roofline", "TFLOP/s", "GB/s", "flags"]


def level_of(sol: Path) -> int:
    return 0 if sol.parent.name == "cpu" else int(sol.parent.name.removeprefix("level"))


def solution_files(levels: set[int] | None, only: set[str] | None, device: str = "cuda") -> list[Path]:
    if device == "cpu":
        files = sorted((ROOT / "solutions" / "cpu").glob("*.py"))
    else:
        files = []
        for lvl in (1, 2, 3):
            if levels and lvl not in levels:
                continue
            files += sorted((ROOT / "solutions" / f"level{lvl}").glob("*.py"))
    if only:
        files = [f for f in files if f.stem in only]
    return files


def row_from(sol: Path, report, seconds: float) -> dict:
    def r(x, nd=3):
        return None if x is None else round(float(x), nd)

    return {
        "problem": sol.stem, "level": level_of(sol),
        "verdict": report.status.value, "speedup": r(report.speedup), "speedup_compile": r(report.speedup_compile),
        "runtime_ms": r(report.runtime_ms, 4), "eager_ms": r(report.baseline_ms, 4),
        "compile_ms": r(report.baseline_compile_ms, 4), "roofline": r(report.roofline_fraction),
        "tflops": r(report.achieved_tflops, 2), "gbps": r(report.achieved_gbps, 1), "flags": list(report.flags),
        "trusted": report.speedup_trusted, "device": report.device, "message": report.message,
        "torch": report.versions.get("torch", ""), "seconds": round(seconds, 1),
    }


def fmt(v, kind: str = "") -> str:
    if v is None:
        return "-"
    if kind == "x":
        return f"{v:.2f}x"
    if kind == "ms":
        return f"{v:.4g}"
    if kind == "frac":
        return f"{v:.2f}"
    return str(v)


def table_rows(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in sorted(rows, key=lambda r: (r["level"], r["problem"])):
        out.append([r["problem"], str(r["level"]), r["verdict"], fmt(r.get("speedup"), "x"),
                    fmt(r.get("speedup_compile"), "x"), fmt(r.get("runtime_ms"), "ms"), fmt(r.get("eager_ms"), "ms"),
                    fmt(r.get("roofline"), "frac"), fmt(r.get("tflops")), fmt(r.get("gbps")),
                    ", ".join(r.get("flags") or []) or "-"])
    return out


def print_table(rows: list[dict]) -> None:
    body = table_rows(rows)
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)))
    for b in body:
        print("  ".join(x.ljust(w) for x, w in zip(b, widths, strict=True)))


def summary(rows: list[dict]) -> str:
    """Median speedup vs eager over the passed level 1 and level 2 rows, and how many beat eager."""
    sp = [r["speedup"] for r in rows if r.get("level") in (1, 2) and r["verdict"] == "passed" and r.get("speedup")]
    if not sp:
        return "levels 1-2: no passed rows with a speedup"
    return (f"levels 1-2: median speedup vs eager {statistics.median(sp):.2f}x over {len(sp)} passed solutions, "
            f"{sum(x >= 1.0 for x in sp)} at or above 1.0x")


BEGIN, END = "<!-- LIBRARY-TABLE", "<!-- /LIBRARY-TABLE -->"


def write_doc(doc: Path, table_md: str) -> None:
    """Put `table_md` between the markers of `doc`; a doc without them is an error naming the fix."""
    text = doc.read_text()
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        raise SystemExit(f"{doc}: no '{BEGIN} ... -->' / '{END}' markers; add them where the table belongs")
    head_end = text.index("-->", a) + len("-->")
    doc.write_text(text[:head_end] + "\n" + table_md + text[b:])


def markdown(rows: list[dict], opts: dict, not_run: list[str]) -> str:
    devices = sorted({r["device"] for r in rows if r.get("device")})
    torches = sorted({r["torch"] for r in rows if r.get("torch")})
    passed = sum(r["verdict"] == "passed" for r in rows)
    lines = [
        f"Graded {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {', '.join(devices) or 'unknown device'}"
        f" (torch {', '.join(torches) or '?'}) with `bench/library.py`: {passed}/{len(rows)} passed; "
        f"trials={opts['trials']}, max timing {opts['max_timing_s']} s per loop, torch.compile baseline "
        f"{'on' if opts['compile_baseline'] else 'off'}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(b) + " |" for b in table_rows(rows)]
    lines += ["", summary(rows) + "."]
    failed = [r for r in rows if r["verdict"] != "passed"]
    if failed:
        lines += ["", "Not passed:", ""]
        lines += [f"- `{r['problem']}`: {r['verdict']}: {r['message'][:300]}" for r in failed]
    if not_run:
        lines += ["", f"Not run (time budget): {', '.join(not_run)}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="library.md",
                    help="markdown file to write (raw rows go to the same name with .json); default library.md")
    ap.add_argument("--compile-baseline", action="store_true", help="also time torch.compile (slow)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--max-timing-s", type=float, default=1.0, help="cap of each timing loop")
    ap.add_argument("--jobs", type=int, default=min(6, max(1, (os.cpu_count() or 2) // 2)),
                    help="gradings at once (their compiles overlap; GPU phases never do)")
    ap.add_argument("--only", help="comma-separated problem names")
    ap.add_argument("--level", type=int, action="append", help="only these levels (repeatable)")
    ap.add_argument("--shard", help="I/N: grade every N-th solution starting at the I-th (1-based)")
    ap.add_argument("--resume", action="store_true", help="keep rows already in OUT.json, grade the rest")
    ap.add_argument("--budget-s", type=float, default=480,
                    help="start no grading after this many seconds (default 480: in-flight ones finish by ~10 min)")
    ap.add_argument("--write-doc", metavar="DOC",
                    help="replace the table between the LIBRARY-TABLE markers of DOC with every row of OUT.json")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="no grading: merge the rows of earlier runs (their OUT.json files) into OUT.md")
    ap.add_argument("--sandbox", default="local", choices=["auto", "local", "docker"])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cpu grades the CPU track instead (a dry run of this script without a GPU)")
    args = ap.parse_args(argv)

    out = Path(args.out)
    raw = out.with_suffix(".json")
    if args.merge:
        merged: dict[str, dict] = {}
        for f in args.merge:
            merged.update({r["problem"]: r for r in json.loads(Path(f).read_text())})
        rows_m = list(merged.values())
        print_table(rows_m)
        opts_m = {"trials": args.trials, "max_timing_s": args.max_timing_s, "compile_baseline": any(
            r.get("speedup_compile") is not None for r in rows_m)}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown(rows_m, opts_m, []))
        raw.write_text(json.dumps(rows_m, indent=1))
        print(summary(rows_m))
        if args.write_doc:
            write_doc(Path(args.write_doc), out.read_text())
        print(f"wrote {out} and {raw}" + (f" and the table in {args.write_doc}" if args.write_doc else ""))
        return 0
    files = solution_files(set(args.level) if args.level else None,
                           set(args.only.split(",")) if args.only else None, args.device)
    if args.shard:
        i, n = (int(x) for x in args.shard.split("/"))
        files = files[i - 1::n]
    rows: dict[str, dict] = {}
    if args.resume and raw.is_file():
        rows = {r["problem"]: r for r in json.loads(raw.read_text())}
        files = [f for f in files if f.stem not in rows]
    opts = {"trials": args.trials, "max_timing_s": args.max_timing_s, "compile_baseline": args.compile_baseline}

    start = time.monotonic()
    print_lock = threading.Lock()

    def log(msg: str) -> None:
        with print_lock:
            print(f"[{time.monotonic() - start:6.1f}s] {msg}", flush=True)

    not_run: list[str] = []
    save_lock = threading.Lock()

    def one(sol: Path) -> dict | None:
        if time.monotonic() - start > args.budget_s:
            not_run.append(sol.stem)
            return None
        problems.resolve(sol.stem)  # fail fast on a solution without a problem
        req = GradeRequest(solution=str(sol), problem=sol.stem, device=args.device, sandbox=args.sandbox,
                           trials=args.trials, baseline_compile=args.compile_baseline,
                           max_timing_s=args.max_timing_s, timeouts=Timeouts(compile=420, correctness=120,
                                                                              timing=120))
        t = time.monotonic()
        try:
            report = grade(req)
        except Exception as e:  # noqa: BLE001 - one broken grading must not stop the table
            log(f"{sol.stem}: grader error {type(e).__name__}: {e}")
            return {"problem": sol.stem, "level": level_of(sol), "verdict": "error",
                    "message": f"{type(e).__name__}: {e}", "flags": [], "seconds": time.monotonic() - t}
        row = row_from(sol, report, time.monotonic() - t)
        log(f"{sol.stem}: {row['verdict']} speedup={fmt(row['speedup'], 'x')} "
            f"runtime={fmt(row['runtime_ms'], 'ms')} ms "
            f"roofline={fmt(row['roofline'], 'frac')} ({row['seconds']:.0f}s)"
            + ("" if row["verdict"] == "passed" else f"  {row['message'][:200]}"))
        with save_lock:
            rows[row["problem"]] = row
            raw.parent.mkdir(parents=True, exist_ok=True)
            raw.write_text(json.dumps(list(rows.values()), indent=1))
        return row

    log(f"grading {len(files)} solutions, {args.jobs} at a time")
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        for r in pool.map(one, files):
            if r is not None and r["problem"] not in rows:
                rows[r["problem"]] = r

    all_rows = list(rows.values())
    print()
    print_table(all_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(all_rows, opts, sorted(not_run)))
    raw.write_text(json.dumps(all_rows, indent=1))
    print(summary(all_rows))
    if args.write_doc:
        write_doc(Path(args.write_doc), out.read_text())
    log(f"wrote {out} and {raw}" + (f" and the table in {args.write_doc}" if args.write_doc else "")
        + (f"; not run (budget): {', '.join(sorted(not_run))}; rerun with --resume" if not_run else ""))
    return 0 if all(r["verdict"] == "passed" for r in all_rows) and not not_run else 1


if __name__ == "__main__":
    sys.exit(main())
