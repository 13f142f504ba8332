#!/usr/bin/env bash
# Probe the Docker backend on a GPU machine that has no Docker engine and no network.
#
# Run as root from the repository root, with .debs/ carried (made by docker/fetch-debs.sh):
#   bash docker/gpu-probe.sh
# Steps, each reported PASS / FAIL / SKIP, and a summary at the end (also in $OUT/gpu-probe.txt):
#   1. unpack the engine (.debs/*.deb) with dpkg -x into a private prefix, never over /;
#   2. make the grader's Python packages importable (docker SDK, pydantic) from .debs/wheels;
#   3. start dockerd from the prefix (own socket, data root and exec root; no iptables, no bridge);
#   4. build an image from this machine's own file system (tar of / minus /proc, /sys, /dev, ...
#      streamed into `docker import`), labelled with this machine's python and as holding the host's
#      toolchain (org.kgrader.host-toolchain: CXX=/opt/gcc/bin/g++ means the same inside), plus the
#      packages step 2 installed;
#   5. run a container with /dev/nvidia* and the driver libraries mounted:
#      python3 -c 'import torch, pydantic, psutil, numpy; print(torch.cuda.is_available())';
#   6. the backend's own tests (tests/sandbox/test_docker.py, GPU test included);
#   7. a real grading with --sandbox docker on cuda, and the same with --sandbox local to compare.
# Finally dockerd is stopped (the image goes with the machine). KG_PROBE_KEEP=1 leaves it running.
# Knobs: KG_PROBE_DIR (default /var/tmp/kgprobe), KG_PROBE_SKIP (space-separated step numbers),
#        KG_PROBE_TAR_PATHS (what goes into the image; default: all of / less the excluded).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DIR=${KG_PROBE_DIR:-/var/tmp/kgprobe}
PREFIX=$DIR/engine
LOG=$DIR/logs
OUTF=${OUT:-$DIR}/gpu-probe.txt
IMAGE=kgrader-host:probe
T0=$(date +%s)
BUDGET=${KG_PROBE_BUDGET:-570}  # seconds for the whole probe: a device run may last 600
mkdir -p "$PREFIX" "$LOG" "$(dirname "$OUTF")"
: > "$OUTF"
declare -a RESULTS=()

say() { printf '[gpu-probe %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" | tee -a "$OUTF" >&2; }
result() {  # step status detail
    RESULTS+=("$(printf '%-34s %-4s %s' "$1" "$2" "$3")")
    say "$2: $1${3:+ - $3}"
}
skipped() { [[ " ${KG_PROBE_SKIP:-} " == *" $1 "* ]]; }
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
summary() {
    say "summary (machine: $(uname -r), $(nvidia-smi -L 2>/dev/null | head -n 1 || echo 'no nvidia-smi'))"
    printf '%s\n' "${RESULTS[@]}" | tee -a "$OUTF" >&2
}
stop_engine() {
    if [ "${KG_PROBE_KEEP:-0}" != 1 ] && [ -f "$DIR/dockerd.pid" ]; then
        kill "$(cat "$DIR/dockerd.pid")" 2>/dev/null || true
        for _ in $(seq 20); do [ -f "$DIR/dockerd.pid" ] && kill -0 "$(cat "$DIR/dockerd.pid")" 2>/dev/null || break; sleep 0.5; done
    fi
}
finish() {
    summary
    stop_engine
    [ -n "${OUT:-}" ] && tar -C "$LOG" -czf "$OUT/gpu-probe-logs.tar.gz" . 2>/dev/null
}
trap finish EXIT

say "machine: $(uname -a)"
say "gpus: $(nvidia-smi -L 2>&1 | tr '\n' ';')"
say "python3: $(command -v python3) $(python3 -V 2>&1); disk: $(df -h "$DIR" | tail -n 1 | awk '{print $4" free on "$1}')"
say "cgroups: $(grep -c cgroup /proc/mounts) cgroup mounts ($(stat -f -c %T /sys/fs/cgroup 2>/dev/null))"
PY=$(python3 -c 'import sys; print(sys.executable)')  # a venv's own python, not a shim
source .ci/carried-bwrap.sh  # step 7's local grading in the bubblewrap jail when .bwrap/ is carried
if [ -e /dev/nvidia0 ]; then
    DEVICE=cuda SOLUTION=tests/fixtures/kb_add_cuda.py PROBLEM=tests/fixtures/kb_add.py
else  # a machine without a GPU still checks the rest
    DEVICE=cpu SOLUTION=tests/fixtures/add_pass.py PROBLEM=tests/fixtures/add_problem.py
fi

# 1. the engine, unpacked into a prefix --------------------------------------------------------------
if ls .debs/*.deb >/dev/null 2>&1; then
    for f in .debs/*.deb; do dpkg -x "$f" "$PREFIX"; done
    export PATH="$PREFIX/usr/sbin:$PREFIX/usr/bin:$PATH"
    missing=$(ldd "$PREFIX/usr/sbin/dockerd" "$PREFIX/usr/sbin/runc" 2>/dev/null | grep 'not found' | sort -u | tr -s ' \t' ' ')
    ENGINE_LD=""
    if [ -n "$missing" ]; then
        ENGINE_LD="$PREFIX/lib/x86_64-linux-gnu:$PREFIX/usr/lib/x86_64-linux-gnu"
        say "host lacks${missing}; the engine uses the prefix's copies"
    fi
    result "1 unpack engine (dpkg -x)" PASS "$(dockerd --version 2>&1 | head -n 1)"
else
    result "1 unpack engine (dpkg -x)" FAIL "no .debs/*.deb: run docker/fetch-debs.sh where apt works, carry .debs"
    exit 1
fi

# 2. the grader's Python packages ------------------------------------------------------------------
if "$PY" -c 'import docker, pydantic' 2>/dev/null; then
    result "2 python packages" PASS "docker and pydantic already importable"
elif want=$(for m in docker pydantic; do "$PY" -c "import $m" 2>/dev/null || echo "$m"; done) \
     && { "$PY" -m pip install -q --no-index --find-links .debs/wheels --no-compile --target "$DIR/site" $want \
          || "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$DIR/site" .debs/wheels/*.whl; } \
          >"$LOG/pip.log" 2>&1; then  # only what is missing (with its dependencies), else every wheel
    export PYTHONPATH="$DIR/site${PYTHONPATH:+:$PYTHONPATH}"
    "$PY" -c 'import docker, pydantic' && result "2 python packages" PASS "installed into $DIR/site from .debs/wheels" \
        || result "2 python packages" FAIL "installed but not importable"
else
    result "2 python packages" FAIL "pip --target failed: $(tail -n 3 "$LOG/pip.log" | tr '\n' ' ')"
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

# 3. dockerd -----------------------------------------------------------------------------------------
export DOCKER_HOST="unix://$DIR/docker.sock"
DATA=$DIR/data
mkdir -p "$DATA"
if [ "$(stat -f -c %T "$DATA")" = overlayfs ]; then  # overlay2 cannot sit on overlayfs
    mount -t tmpfs -o size=100g kgprobe "$DATA" && say "data root on tmpfs ($DATA is on overlayfs)"
fi
if ! grep -q cgroup /proc/mounts; then
    say "no cgroups mounted: mounting cgroup2 at /sys/fs/cgroup"
    mount -t cgroup2 none /sys/fs/cgroup || true
fi
ping_engine() { "$PY" -c 'import docker; docker.from_env(timeout=5).ping()' >/dev/null 2>&1; }
if ping_engine; then
    result "3 start dockerd" PASS "already running"
else
    LD_LIBRARY_PATH="$ENGINE_LD" setsid dockerd --data-root "$DATA" --exec-root "$DIR/exec" \
        --pidfile "$DIR/dockerd.pid" -H "$DOCKER_HOST" --iptables=false --ip6tables=false --bridge=none \
        --ip-masq=false --userland-proxy=false >"$LOG/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 60); do ping_engine && break; sleep 1; done
    if ping_engine; then
        info=$("$PY" -c 'import docker; i=docker.from_env().info(); print(i["ServerVersion"], i["Driver"], "cgroup v"+str(i.get("CgroupVersion")), i.get("CgroupDriver"))')
        result "3 start dockerd" PASS "$info"
    else
        result "3 start dockerd" FAIL "$(tail -n 5 "$LOG/dockerd.log" | tr '\n' ' ' | cut -c1-600)"
        exit 1
    fi
fi

# 4. an image of this machine's own file system ------------------------------------------------------
if "$PY" -c "import docker,sys; docker.from_env().images.get('$IMAGE')" 2>/dev/null; then
    result "4 image from host fs" PASS "$IMAGE already there"
elif skipped 4; then
    result "4 image from host fs" SKIP "KG_PROBE_SKIP"
else
    "$PY" - "$IMAGE" "$PY" "$REPO" "$DIR" >"$LOG/import.log" 2>&1 <<'PYEOF'
import os, subprocess, sys, time
import docker
image, py, repo, work = sys.argv[1:5]
paths = os.environ.get("KG_PROBE_TAR_PATHS", ".").split()
excl = ["./proc/*", "./sys/*", "./dev/*", "./run/*", "./tmp/*", "./var/tmp/*", "./var/cache/*", "./var/log/*",
        "./var/lib/docker",
        "./mnt", "./media", "./lost+found", "./root/.cache", "./usr/share/doc", "./usr/share/man",
        "./usr/share/locale", "./opt/nvidia", "*_static.a", "*_static_nocallback.a", "*/site-packages/jax*",
        "*/site-packages/cupy*", "*/site-packages/tensorflow*", "*/__pycache__"]
excl += ["." + p for p in {os.path.realpath(repo), os.path.realpath(work)} if p != "/"]
argv = ["tar", "-C", "/", "-c", "--numeric-owner", "--ignore-failed-read", "--warning=no-file-changed",
        "--warning=no-file-removed", "--warning=no-file-ignored"]
argv += [f"--exclude={e}" for e in excl] + paths
t0 = time.time()
tar = subprocess.Popen(argv, stdout=subprocess.PIPE)
sent = 0
def chunks():
    global sent
    while True:
        b = tar.stdout.read(8 << 20)
        if not b:
            return
        sent += len(b)
        yield b
env = [f"ENV {k}={os.environ[k]}" for k in ("LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH") if os.environ.get(k)]
api = docker.APIClient(base_url=os.environ["DOCKER_HOST"], timeout=3600)
out = api.import_image(src=chunks(), repository=image.split(":")[0], tag=image.split(":")[1], stream_src=True,
                       changes=[f"LABEL org.kgrader.python={py}", "LABEL org.kgrader.host-toolchain=1",
                                "ENV LANG=C.UTF-8", *env])
tar.wait()
print(f"imported {sent / 2**30:.1f} GiB in {time.time() - t0:.0f} s; tar exit {tar.returncode}; {str(out)[:300]}")
PYEOF
    if [ $? = 0 ]; then result "4 image from host fs" PASS "$(grep '^imported' "$LOG/import.log" | cut -c1-200)"
    else result "4 image from host fs" FAIL "$(tail -n 5 "$LOG/import.log" | tr '\n' ' ' | cut -c1-600)"; exit 1; fi
    # Two mends in a layer on top, when needed: packages step 2 put in $DIR/site (left out of the tar) go
    # into the image's own site-packages, since the worker runs with only the grader's code on its path;
    # and folders on the way to this python that others may not enter (a python under /root) become
    # enterable, since the container's worker is uid 10001, not root.
    "$PY" - "$IMAGE" "$PY" "$DIR" >"$LOG/mend.log" 2>&1 <<'PYEOF'
import os, shutil, stat, sys, sysconfig
import docker
image, py, work = sys.argv[1:4]
ctx = os.path.join(work, "mend-ctx")
shutil.rmtree(ctx, ignore_errors=True)
os.makedirs(ctx)
steps = []
if os.path.isdir(os.path.join(work, "site")):
    shutil.copytree(os.path.join(work, "site"), os.path.join(ctx, "site"))
    steps.append(f"COPY site/ {sysconfig.get_paths()['purelib']}/")
closed = set()
for target in (sys.prefix, sys.base_prefix, os.path.realpath(py), sysconfig.get_paths()["purelib"]):
    d = os.path.dirname(os.path.realpath(target))
    while d != "/":
        if not os.stat(d).st_mode & stat.S_IXOTH:
            closed.add(d)
        d = os.path.dirname(d)
if closed:
    steps.append("USER 0")
    steps.append("RUN chmod o+x " + " ".join(sorted(closed)))
if steps:
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(f"FROM {image}\n" + "\n".join(steps) + "\n")
    docker.from_env(timeout=600).images.build(path=ctx, tag=image, rm=True, network_mode="none")
print("image mended:", "; ".join(steps) or "nothing to mend")
PYEOF
    [ $? = 0 ] && say "$(tail -n 1 "$LOG/mend.log")" || say "mending the image failed: $(tail -n 3 "$LOG/mend.log" | tr '\n' ' ')"
fi
export KG_DOCKER_IMAGE=$IMAGE

# 5. torch sees the GPU inside a container ----------------------------------------------------------------
if skipped 5; then result "5 torch.cuda in container" SKIP "KG_PROBE_SKIP"; else
"$PY" - >"$LOG/cuda.log" 2>&1 <<'PYEOF'
import os, docker
from sandbox.docker import DockerSandbox
from sandbox.docker.devices import _driver_libraries, _nvidia_devices, device_config
sb = DockerSandbox()
devices = _nvidia_devices()
libs = _driver_libraries()
print("devices:", devices)
print("driver libraries:", len(libs), sorted(libs)[:8])
config = device_config({"mounts": [], "environment": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}, sb.image_env)
out = sb.client.containers.run(sb.image, [sb.python, "-c", "import torch, pydantic, psutil, numpy; print(torch.cuda.is_available(), torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"],
                               user="10001:10001", network_mode="none", read_only=True, cap_drop=["ALL"],
                               security_opt=["no-new-privileges"], tmpfs={"/tmp": "size=1g"}, remove=True,
                               devices=config["devices"], mounts=config["mounts"], environment=config["environment"],
                               group_add=config.get("group_add"), stderr=True)
print("container says:", out.decode().strip())
PYEOF
    said=$(grep 'container says' "$LOG/cuda.log" | cut -d: -f2-)
    if [ "$DEVICE" = cpu ]; then result "5 torch.cuda in container" SKIP "no /dev/nvidia0 here: ${said:-$(tail -n 1 "$LOG/cuda.log")}"
    elif [[ "$said" == " True"* ]]; then result "5 torch.cuda in container" PASS "$said"
    else result "5 torch.cuda in container" FAIL "${said:-$(tail -n 4 "$LOG/cuda.log" | tr '\n' ' ' | cut -c1-600)}"; fi
fi

# 6. the backend's tests against this engine ---------------------------------------------------------------
if skipped 6 || [ "$(left)" -lt 200 ]; then result "6 tests/sandbox/test_docker.py" SKIP "KG_PROBE_SKIP or $(left) s left"; else
    KG_REQUIRE_DOCKER=1 timeout $(( $(left) - 150 )) "$PY" -m pytest -q -p no:cacheprovider tests/sandbox/test_docker.py -rs >"$LOG/pytest.log" 2>&1
    rc=$?
    line=$(grep -E '(passed|failed|error)' "$LOG/pytest.log" | tail -n 1)
    [ $rc = 0 ] && result "6 tests/sandbox/test_docker.py" PASS "$line" || result "6 tests/sandbox/test_docker.py" FAIL "$line"
    grep -E '^(FAILED|ERROR)' "$LOG/pytest.log" | head -n 10 | tee -a "$OUTF" >&2
fi

# 7. a real grading, docker vs local ------------------------------------------------------------------------
grade() {  # sandbox
    timeout "$(( $(left) - 5 ))" "$PY" -m grader check "$SOLUTION" --problem "$PROBLEM" \
        --device "$DEVICE" --sandbox "$1" --json --no-compile-baseline >"$LOG/grade-$1.json" 2>"$LOG/grade-$1.err"
    "$PY" -c 'import json,sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
rt = (r.get("runtime") or {}).get("median_ms")
print(r["status"], "|", r.get("sandbox"), "|", r.get("device"), "| grading", "%.1f s," % r.get("duration_s", 0), "runtime",
      "%s ms" % rt if rt else "-", "eager", r.get("baseline_ms"), "ms |", (r.get("message") or "")[:160],
      "| worker log:", (r.get("worker_log") or "")[-300:].replace("\n", " "))' "$LOG/grade-$1.json" 2>/dev/null \
        || echo "no report: $(tail -n 3 "$LOG/grade-$1.err" | tr '\n' ' ' | cut -c1-400)"
}
for sb in docker local; do
    if skipped 7 || [ "$(left)" -lt 60 ]; then result "7 grading --sandbox $sb" SKIP "KG_PROBE_SKIP or $(left) s left"; continue; fi
    t=$(date +%s)
    r=$(grade "$sb")
    [[ "$r" == passed* ]] && result "7 grading --sandbox $sb ($DEVICE)" PASS "$(( $(date +%s) - t )) s: $r" \
        || result "7 grading --sandbox $sb ($DEVICE)" FAIL "$(( $(date +%s) - t )) s: $r"
done
exit 0
