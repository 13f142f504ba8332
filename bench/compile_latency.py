"""How long the compile phase takes: cold, re-graded in a new process (compile cache), and after changes
to the kernel's body only (object reuse, the precompiled torch/extension.h). Prints a table.

    python bench/compile_latency.py --device cpu     # tests/fixtures/add_pass.py (C++), on this machine
    python bench/compile_latency.py --device cuda    # the seed a + b (tests/fixtures/kb_add_cuda.py), on a GPU

Each grading is a new `python -m grader check --json` process with a compile cache folder of its own
(empty at the start). "compile" is the compile phase from the grader's events, "grading" the report's
duration, "wall" the whole process, "header" the report's `compile_pch`: torch/extension.h precompiled
beside that build ("made", kept in the cache; the second build with the same flags makes it) or taken from
the cache ("given"). The build breakdown builds the same extension outside any sandbox: once the way torch's
load_inline does in a worker (before this work: torch's defaults), then through grader/jail/builder.py with
the builder's settings (MAX_JOBS = cores, TORCH_CUDA_ARCH_LIST = the device's) without a precompiled header,
and making one, and the body-only change given that header (and on CUDA reusing the first build's binding
object); per-object seconds come from ninja's log. The first four gradings skip the torch.compile baseline;
the last two time it, as a user's default grading does: "+ baseline, first" compiles the reference's
torch.compile, "+ baseline, again" finds it in the cache ("baseline" column: the report's
`baseline_compile_cached`).

    python bench/compile_latency.py --device cpu --first 2   # a fresh machine's first grading, with and without
                                                             # `grader cache warm`, 2 alternating rounds

`--first N` prints only a fresh machine's first grading, each in an empty cache, side by side in N rounds: with
no warm (the build parses torch/extension.h), after `grader cache warm` (which precompiles it first; its own
seconds in "warm s", "total s" = both), and started while a warm runs (the build waits for the header).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]  # this checkout's grader, not an installed one
CASES = {  # device -> (solution, problem, kernel body before, after)
    "cpu": ("tests/fixtures/add_pass.py", "tests/fixtures/add_problem.py", "pa[i] + pb[i]", "pb[i] + pa[i]"),
    "cuda": ("tests/fixtures/kb_add_cuda.py", "tests/fixtures/kb_add.py", "a[idx] + b[idx]", "b[idx] + a[idx]"),
}

CAPTURE = """
import json, runpy, sys
from grader.jail import build_shim

class Capture:
    def send(self, frame):
        print(json.dumps(frame["build"]))
        sys.exit(0)

build_shim.install(Capture(), "/nonexistent")
runpy.run_path(sys.argv[1])
"""

BEFORE = """
import json, os, sys
import torch.utils.cpp_extension as ce
r, folder = json.loads(sys.argv[1]), sys.argv[2]
os.makedirs(folder, exist_ok=True)
ce._import_module_from_library = lambda *a, **k: None
ce.load_inline(r["name"], r["cpp_sources"], r["cuda_sources"] or None, functions=r["functions"],
               extra_cflags=r["extra_cflags"], extra_cuda_cflags=r["extra_cuda_cflags"], build_directory=folder)
"""

AFTER = """
import json, sys
from pathlib import Path
from grader.jail.builder import build
from grader.protocol.messages import BuildOrder
print(build(BuildOrder.model_validate_json(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[2]))[1])
"""


def env_with(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **extra}


def grade(solution: Path, problem: str, device: str, cache: Path, sandbox: str, baseline: bool = False) -> dict:
    """One `grader check` in a new process; `baseline`: with the torch.compile baseline (a user's default)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(solution), "--problem", str(REPO / problem),
                           "--device", device, "--sandbox", sandbox, "--json",
                           *([] if baseline else ["--no-compile-baseline"]),
                           "--max-timing-s", "0.5", "--trials", "1", "--timeout", "1500"], capture_output=True, text=True,
                          env=env_with({"KG_COMPILE_CACHE": str(cache)}), cwd=REPO)
    wall = time.perf_counter() - t0
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    events = [json.loads(x) for x in proc.stderr.splitlines() if x.startswith("{")]
    at = {e["kind"]: e["at_s"] for e in events if e["phase"] == "compile"}
    return {"status": report["status"], "cached": report["compile_cached"], "wall": wall, "pch": report["compile_pch"],
            "baseline": report.get("baseline_compile_cached"),
            "grading": report["duration_s"], "compile": at.get("end", float("nan")) - at.get("start", float("nan"))}


def warm_argv(device: str, cache: Path, sandbox: str) -> list[str]:
    return [sys.executable, "-m", "grader", "cache", "warm", "--device", device, "--sandbox", sandbox, "--dir",
            str(cache)]


def first_gradings(solution: Path, problem: str, device: str, sandbox: str, scratch: Path, rounds: int) -> None:
    print(f"{'first grading':<22} {'round':>5} {'status':<8} {'header':<7} {'warm s':>7} {'compile s':>10} "
          f"{'grading wall s':>15} {'total s':>8}")
    for n in range(1, rounds + 1):
        for label in ("no warm", "after warm", "beside a warm"):
            cache = scratch / f"first-{n}-{label.replace(' ', '-')}"
            warm_s = 0.0
            beside = None
            t0 = time.perf_counter()
            if label == "after warm":
                subprocess.run(warm_argv(device, cache, sandbox), check=True, capture_output=True, env=env_with({}))
                warm_s = time.perf_counter() - t0
            elif label == "beside a warm":
                beside = subprocess.Popen(warm_argv(device, cache, sandbox), stdout=subprocess.DEVNULL,
                                          env=env_with({}))
                while not list(cache.glob("*/making-*")) and beside.poll() is None:
                    time.sleep(0.05)  # the grading starts once the warm holds the header's lock
            r = grade(solution, problem, device, cache, sandbox)
            if beside is not None:
                beside.wait()
            print(f"{label:<22} {n:>5} {r['status']:<8} {r['pch'] or '-':<7} {warm_s:>7.2f} {r['compile']:>10.2f} "
                  f"{r['wall']:>15.2f} {time.perf_counter() - t0:>8.2f}", flush=True)


def ninja_times(folder: Path) -> dict[str, float]:
    out = {}
    log = folder / ".ninja_log"
    for line in log.read_text().splitlines()[1:] if log.exists() else []:
        start, end, _mtime, target, _hash = line.split("\t")
        out[target] = (int(end) - int(start)) / 1e3
    return out


def timed(code: str, args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"build failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def breakdown(request: dict, changed: dict, scratch: Path) -> list[tuple[str, float, dict[str, float]]]:
    from grader.jail.builder import PCH_OUT
    from grader.judge.compile_cache import device_arch
    from grader.protocol.messages import BuildOrder

    builder_env = {"MAX_JOBS": os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)}
    if device_arch():
        builder_env["TORCH_CUDA_ARCH_LIST"] = device_arch()
    rows, name = [], request["name"]
    before = scratch / "before"
    rows.append(("torch load_inline (before)", timed(BEFORE, [json.dumps(request), str(before)], env_with({})),
                 ninja_times(before)))
    plain = scratch / "builder-plain"
    rows.append(("builder, no header made", timed(AFTER, [BuildOrder(request=request).model_dump_json(), str(plain)],
                                                   env_with(builder_env)), ninja_times(plain / name)))
    cold = scratch / "builder-cold"
    rows.append(("builder, cold (makes header)",
                 timed(AFTER, [BuildOrder(request=request, make_pch=True).model_dump_json(), str(cold)],
                       env_with(builder_env)), ninja_times(cold / name)))
    reuse = {o: str(cold / name / o) for o in ("main.o", "cuda.cuda.o") if (cold / name / o).exists()}
    body_only = {k: v for k, v in reuse.items() if k == "main.o" and changed["cuda_sources"]}
    body = scratch / "builder-body"
    order = BuildOrder(request=changed, objects=body_only, pch=str(cold / PCH_OUT))
    rows.append(("builder, body changed", timed(AFTER, [order.model_dump_json(), str(body)], env_with(builder_env)),
                 ninja_times(body / name)))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=sorted(CASES), default="cpu")
    ap.add_argument("--sandbox", default="local")
    ap.add_argument("--no-breakdown", action="store_true", help="only the gradings")
    ap.add_argument("--gradings", type=int, default=6, help="only the first N gradings of the table")
    ap.add_argument("--first", type=int, metavar="N", help="only a fresh machine's first grading, with and "
                    "without `grader cache warm`, in N alternating rounds")
    args = ap.parse_args()
    solution, problem, body, changed_body = CASES[args.device]
    with tempfile.TemporaryDirectory(prefix="kg-compile-bench-") as tmp:
        scratch, cache = Path(tmp), Path(tmp) / "cache"
        if args.first:
            print(f"# first grading: {solution} on {args.device}, {platform.node()}, {os.cpu_count()} cores, "
                  f"MAX_JOBS={os.environ.get('MAX_JOBS', 'unset')}")
            first_gradings(REPO / solution, problem, args.device, args.sandbox, scratch, args.first)
            return 0
        text = (REPO / solution).read_text()
        assert body in text, f"{solution} no longer holds {body!r}"
        changed, again = (scratch / d / Path(solution).name for d in ("changed", "again"))
        for path, new_body in ((changed, changed_body), (again, f"({body})")):
            path.parent.mkdir()
            path.write_text(text.replace(body, new_body))
        print(f"# compile latency: {solution} on {args.device}, {platform.node()}, {os.cpu_count()} cores, "
              f"python {platform.python_version()}, MAX_JOBS={os.environ.get('MAX_JOBS', 'unset')}")
        print(f"{'grading':<24} {'status':<10} {'cached':<7} {'header':<7} {'baseline':<9} {'compile s':>10} "
              f"{'grading s':>10} {'wall s':>8}")
        plan = [("cold (empty cache)", REPO / solution, False), ("re-grade, new process", REPO / solution, False),
                # The second build with the same flags precompiles torch/extension.h beside it; the third uses it.
                ("kernel body changed", changed, False), ("body changed again", again, False),
                # What a user's default grading adds: the reference's torch.compile, compiled at the problem's
                # first grading and then taken from the cache (grader/judge/baseline_cache.py).
                ("+ baseline, first", REPO / solution, True), ("+ baseline, again", REPO / solution, True)]
        for label, path, baseline in plan[:args.gradings]:  # each row as it comes: a run cut short keeps them
            r = grade(path, problem, args.device, cache, args.sandbox, baseline)
            shown = "-" if r["baseline"] is None else str(r["baseline"])
            print(f"{label:<24} {r['status']:<10} {str(r['cached']):<7} {r['pch'] or '-':<7} {shown:<9} "
                  f"{r['compile']:>10.2f} {r['grading']:>10.2f} {r['wall']:>8.2f}", flush=True)
        if args.no_breakdown:
            return 0
        request, changed_request = (
            json.loads(subprocess.run([sys.executable, "-c", CAPTURE, str(p)], capture_output=True, text=True,
                                      env=env_with({}), cwd=REPO, check=True).stdout.strip().splitlines()[-1])
            for p in (REPO / solution, changed))
        print(f"\n{'build (no sandbox)':<28} {'total s':>8}  per step (ninja's log, s)")
        for label, total, steps in breakdown(request, changed_request, scratch):
            parts = ", ".join(f"{k} {v:.1f}" for k, v in steps.items()) or "-"
            print(f"{label:<28} {total:>8.2f}  {parts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
