"""`grader check --profile`: Nsight Compute over the candidate's kernels, summarised per kernel.

After a passing CUDA grading the engine starts one more candidate worker in the same sandbox, this time under
`ncu` (grader/jail/ncu_run.py execs it inside the jail): the worker loads the solution as usual (build cache, the
compile phase's warm-up, so JIT compiles and autotuning are not profiled), then makes inputs and runs one
forward between cudaProfilerStart and cudaProfilerStop (ncu runs with --profile-from-start off). ncu writes its
CSV into the worker's exchange folder; once the worker has exited, `parse_csv` (a pure function) turns it
into ProfileRows: duration, DRAM and SM throughput as shares of peak, achieved occupancy, registers per
thread and the limiting unit. The candidate shares the jail with ncu and could rewrite that file, so the
profile is advice for its author and never enters the verdict; the file is read without following links.
"""

from __future__ import annotations

import csv
import os
import re
import stat
import time
from typing import TYPE_CHECKING

from grader.errors import UsageError
from grader.jail.ncu_run import DRAM, DURATION, L1, L2, LOG_NAME, METRICS, OCCUPANCY, REGISTERS, SM, find
from grader.models import Phase, ProfileRow

if TYPE_CHECKING:
    import sandbox

    from .engine import Grading

MAX_LOG_BYTES = 16 << 20
EXTRA_MEMORY = 2 << 30      # ncu's own host memory beside the worker's limit
LATENCY_BELOW = 60.0        # ncu's own rule: under 60% of peak on every unit, latency limits the kernel
UNITS = {"SM": SM, "DRAM": DRAM, "L2": L2, "L1": L1}
TO_US = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}
NUMBER = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
MISSING = ("--profile: Nsight Compute (ncu) is not installed here: not on PATH, nor in $CUDA_HOME/bin, "
           "/usr/local/cuda/bin or /opt/nvidia/nsight-compute; install Nsight Compute (part of the CUDA toolkit) "
           "or set KG_NCU=/path/to/ncu")


def preflight(device: str) -> str:
    """The ncu a --profile grading will run, or a one-line refusal before anything starts."""
    if device != "cuda":
        raise UsageError("--profile: Nsight Compute profiles GPU kernels; grade with --device cuda, or drop --profile")
    found = find(os.environ.get("KG_NCU"))
    if found is None:
        raise UsageError(MISSING)
    return found


def _number(text: str | None) -> float | None:
    s = (text or "").strip()
    if NUMBER.fullmatch(s):  # a thousands separator
        s = s.replace(",", "")
    try:
        return float(s)
    except ValueError:
        return None


def _launches(text: str) -> list[tuple[str, dict[str, str], dict[str, float]]]:
    """(kernel, launch fields, metric -> value) per launch, from ncu's long CSV (one row per metric, the default
    `--page details`) or its wide one (`--page raw`: one row per launch, a units row under the header)."""
    rows = [ln for ln in text.splitlines() if ln.startswith('"')]  # ==PROF== and ==WARNING== lines are not CSV
    table = list(csv.reader(rows))
    if not table or "Kernel Name" not in table[0]:
        return []
    head = table[0]
    col = {name: i for i, name in enumerate(head)}

    def get(row: list[str], name: str) -> str:
        i = col.get(name)
        return row[i] if i is not None and i < len(row) else ""

    out: dict[str, tuple[str, dict[str, str], dict[str, float]]] = {}
    long = "Metric Name" in col and "Metric Value" in col
    for row in table[1:]:
        if len(row) < len(head):
            continue
        key = get(row, "ID") or (str(len(out)) if not long else get(row, "Kernel Name"))
        if not long and not get(row, "Kernel Name"):
            continue  # the units row
        kernel = get(row, "Kernel Name")[:200]
        launch = out.setdefault(key, (kernel, {"grid": get(row, "Grid Size"), "block": get(row, "Block Size")}, {}))
        pairs = [(get(row, "Metric Name"), get(row, "Metric Unit"), get(row, "Metric Value"))] if long else \
            [(m, get(table[1], m) if not get(table[1], "Kernel Name") else "", get(row, m)) for m in METRICS]
        for name, unit, value in pairs:
            x = _number(value)
            if name in METRICS and x is not None:
                launch[2][name] = x * TO_US.get(unit.strip(), 1e-3) if name == DURATION else x
    return list(out.values())


def parse_csv(text: str) -> list[ProfileRow]:
    """ncu's CSV summarised per kernel, in order of first launch: durations summed, shares of peak averaged over
    the launches weighted by their durations, the limiting unit from those averages."""
    kernels: dict[str, list[tuple[dict[str, str], dict[str, float]]]] = {}
    for kernel, fields, metrics in _launches(text):
        kernels.setdefault(kernel, []).append((fields, metrics))
    rows = []
    for kernel, launches in kernels.items():
        weights = [m.get(DURATION) or 0.0 for _, m in launches]
        if not any(weights):
            weights = [1.0] * len(launches)

        def mean(metric: str, weights: list[float] = weights,
                 launches: list[tuple[dict[str, str], dict[str, float]]] = launches) -> float | None:
            got = [(w, m[metric]) for w, (_, m) in zip(weights, launches) if metric in m]
            total = sum(w for w, _ in got)
            return round(sum(w * x for w, x in got) / total, 2) if got and total > 0 else None

        durations = [m[DURATION] for _, m in launches if DURATION in m]
        shares = {unit: mean(metric) for unit, metric in UNITS.items()}
        known = {u: x for u, x in shares.items() if x is not None}
        top = max(known, key=known.__getitem__) if known else ""
        regs = [m[REGISTERS] for _, m in launches if REGISTERS in m]
        rows.append(ProfileRow(kernel=kernel, launches=len(launches),
                               duration_us=round(sum(durations), 3) if durations else None,
                               dram_pct=shares["DRAM"], sm_pct=shares["SM"], occupancy_pct=mean(OCCUPANCY),
                               registers=int(max(regs)) if regs else None,
                               grid=launches[0][0]["grid"], block=launches[0][0]["block"],
                               limiter="latency" if top and known[top] < LATENCY_BELOW else top))
    return rows


def refusal(text: str) -> str:
    """One line saying why ncu measured nothing, from its own messages; empty when it did not complain."""
    if "ERR_NVGPUCTRPERM" in text:
        return ("ncu was refused the GPU's performance counters (ERR_NVGPUCTRPERM): this machine lets only "
                "administrators profile; allow all users (nvidia module option NVreg_RestrictProfilingToAdminUsers=0, "
                "see https://developer.nvidia.com/ERR_NVGPUCTRPERM) or profile on another machine")
    for line in text.splitlines():
        if line.startswith("==ERROR=="):
            return f"ncu: {line.removeprefix('==ERROR==').strip()}"[:300]
    if "No kernels were profiled" in text:
        return "ncu profiled no kernels: the solution's forward launched none on the GPU"
    return ""


def summarise(csv_text: str, log: str, stopped: str = "") -> tuple[list[ProfileRow], str]:
    """Rows and the note beside them: ncu's own complaint first, else why the profiling run stopped
    (`stopped`), else a word when nothing was measured."""
    rows = parse_csv(csv_text)
    note = refusal(csv_text + "\n" + log) or stopped
    if not rows and not note:
        note = "ncu wrote no measurements (see the worker log: --json, field worker_log)"
    return rows, note


def _read_log(folder) -> str:
    """ncu's CSV from a worker's exchange folder: a regular file only (never a link the candidate put there),
    at most MAX_LOG_BYTES."""
    try:
        fd = os.open(os.path.join(folder, LOG_NAME), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_LOG_BYTES).decode("utf-8", "replace")
    finally:
        os.close(fd)


def profile(g: Grading, box: sandbox.Sandbox, exe: str) -> tuple[list[ProfileRow], str]:
    """Profile one forward of the candidate under ncu in `box`; (rows, note). Never raises a verdict: the
    grading's verdict is already decided, and a profile that fails says why in the note."""
    from grader.protocol import messages as m

    from .engine import Party, Verdict, _expect_ok, fresh_seed

    req = g.req
    spec = g.spec("candidate")
    limits = spec.limits.model_copy(update={"memory_bytes": (spec.limits.memory_bytes or 0) + EXTRA_MEMORY
                                            if spec.limits.memory_bytes else None})
    spec = spec.model_copy(update={"module": "grader.jail.ncu_run", "env": {**spec.env, "KG_NCU": exe},
                                   "limits": limits})
    g.event(Phase.timing, "log", "profiling one forward with Nsight Compute")
    try:
        party = Party(box, "candidate", spec, g.cancel)
    except Verdict as v:
        return [], f"ncu did not start: {v.message}"[:500]
    note = ""
    try:
        load = m.Load(device=req.device, role="candidate", init_seed=fresh_seed(),
                      problem=party.worker.paths["problem"], solution=party.worker.paths["solution"], dims=req.dims,
                      precision=req.precision)
        reply = party.call(load, req.timeouts.compile, "profiling (load)",
                           on_build=lambda frame, left: g.builds.answer(frame, party.worker.exchange, left))
        _expect_ok(reply, party, "profiling (load)", m.Loaded)
        _expect_ok(party.call(m.NcuRange(seed=fresh_seed()), req.timeouts.timing, "profiling"), party, "profiling",
                   m.Done)
        party.chan.send(m.Exit())
        deadline = time.monotonic() + req.timeouts.timing  # ncu writes its results as the worker exits
        while party.worker.poll() is None and time.monotonic() < deadline and not g.cancel.is_set():
            time.sleep(0.1)
        if party.worker.poll() is None:
            note = f"ncu did not finish within {req.timeouts.timing:.0f}s (--timeout S)"
    except (Verdict, OSError) as e:
        note = f"profiling stopped: {getattr(e, 'message', None) or e}"[:500]
    finally:
        text = _read_log(party.worker.exchange)
        log = party.worker.log()
        party.close()
    return summarise(text, log, note)
