#!/usr/bin/env bash
# The GPU check of the Dask executor (issue 14): a Dask scheduler started as a process of its own, one Dask
# worker that owns GPU 0 (resource GPU=1, CUDA_VISIBLE_DEVICES=0), and `grader batch --executor dask
# --scheduler tcp://...` grading a small CUDA class through them: a CUDA kernel (nvcc on the worker),
# two PyTorch-op solutions and a wrong one, against the `relu` problem.
#   bash bench/dask_gpu_check.sh [JOBS]        # JOBS: gradings at once on the worker (default 2)
# Needs dask and distributed importable (docs/scaling.md lists the wheels to carry); uses the carried
# bubblewrap in .bwrap/ when there is one. Prints the batch's output, a table of the verdicts, and
# "dask-gpu-check: PASSED" when every verdict is the expected one; exits 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ -d .bwrap ] && source .ci/carried-bwrap.sh
PY=${PYTHON:-python3}
JOBS=${1:-2}
work=$(mktemp -d /tmp/kg-dask-gpu.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

"$PY" -c 'import dask, distributed; print("dask", dask.__version__, "distributed", distributed.__version__)' || exit 1
mkdir -p "$work/subs"/{ann,ben,cai,dan}
cp solutions/level1/relu.py "$work/subs/ann/relu.py"
for s in ben:torch.relu\(x\) cai:x.clamp\(min=0\) dan:x.abs\(\); do
    printf 'import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n    def forward(self, x):\n        return %s\n' \
        "${s#*:}" > "$work/subs/${s%%:*}/relu.py"
done
for s in ann ben cai dan; do echo 2026-03-01T12:00:00Z > "$work/subs/$s/submitted_at"; done
cat > "$work/a.toml" <<'EOF'
name = "dask gpu check"
due = 2026-03-01T23:59:00Z
[[problems]]
problem = "relu"
correctness = 5
performance = 5
[grading]
device = "cuda"
sandbox = "local"
trials = 3
max_timing_s = 0.5
EOF

"$PY" -m dask scheduler --host 127.0.0.1 --port 0 --no-dashboard --scheduler-file "$work/scheduler.json" \
    > "$work/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/scheduler.json" ] && break; sleep 0.2; done
address=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["address"])' "$work/scheduler.json") || exit 1
CUDA_VISIBLE_DEVICES=0 "$PY" -m dask worker "$address" --resources GPU=1 --nthreads "$JOBS" --no-dashboard \
    --host 127.0.0.1 --memory-limit 0 --name gpu0 > "$work/worker.log" 2>&1 &
pids+=($!)
"$PY" -c 'import sys; from distributed import Client; Client(sys.argv[1]).wait_for_workers(1, timeout=120)' "$address" \
    || { tail -20 "$work/worker.log"; exit 1; }
echo "scheduler $address (pid ${pids[0]}), worker gpu0 (pid ${pids[1]}, GPU=1, $JOBS threads)"

start=$(date +%s.%N)
timeout 480 "$PY" -m grader batch "$work/a.toml" "$work/subs" --out "$work/out" --executor dask \
    --scheduler "$address" --jobs "$JOBS"
rc=$?
wall=$("$PY" -c "print(round($(date +%s.%N) - $start, 1))")
echo "grader batch exit code $rc, wall $wall s"
"$PY" - "$work/out/ledger.sqlite" <<'EOF'
import json, sqlite3, sys
want = {"ann": "passed", "ben": "passed", "cai": "passed", "dan": "incorrect"}
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT student, status, report FROM attempts WHERE current = 1 ORDER BY student").fetchall()
print(f"{'student':<8}{'status':<15}{'cached':<8}{'grading s':>10}{'runtime ms':>12}{'eager ms':>10}{'speedup':>9}")
ok = len(rows) == len(want)
for student, status, report in rows:
    r = json.loads(report)
    rt = (r.get("runtime") or {}).get("median_ms")
    print(f"{student:<8}{status:<15}{str(r.get('compile_cached')):<8}{r['duration_s']:>10.1f}"
          f"{rt if rt is not None else '-':>12}{r.get('baseline_ms') or '-':>10}{r.get('speedup') or '-':>9}")
    ok &= want.get(student) == status
for (problem, timings) in db.execute("SELECT problem, timings FROM baselines WHERE pinned = 1"):
    t = json.loads(timings)
    print(f"pinned baseline of {problem}: eager {t['eager']['median_ms']:.4g} ms, compile "
          f"{(t.get('compile') or {}).get('median_ms')} ms")
print("dask-gpu-check:", "PASSED" if ok else "FAILED")
sys.exit(0 if ok else 1)
EOF
check=$?
[ $rc = 0 ] && [ $check = 0 ] || { echo "--- worker log"; tail -30 "$work/worker.log"; exit 1; }
