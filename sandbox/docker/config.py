"""The Docker provider's configuration: the image, its labels, the paths inside a container, and what a
container gets (network, cgroup limits, rlimits, mounts, environment)."""

from __future__ import annotations

import os
import socket
from pathlib import Path, PurePosixPath

import psutil

from ..base import Limits, WorkerSpec
from ..common import MULTICAST_ENV, base_env, importables
from ..toolchain import SYSTEM_PATH, discover

try:  # the SDK is only needed when this provider is used
    import docker.errors

    import docker
except ImportError:  # pragma: no cover - reported by available()
    docker = None  # type: ignore[assignment]

IMAGES = ("kgrader-worker:latest", "kgrader-worker:cpu")  # tried in turn unless KG_DOCKER_IMAGE names one
LABEL = "org.kgrader.sandbox"
LABEL_HOST = "org.kgrader.owner-host"
LABEL_PID = "org.kgrader.owner-pid"
LABEL_START = "org.kgrader.owner-start"
LABEL_ROOT = "org.kgrader.root"
LABEL_PYTHON = "org.kgrader.python"  # image label: the interpreter that has torch
# Image label: the image is this host's own file system (docker/gpu-probe.sh makes one), so the host's
# compilers are at the same paths inside and the operator's choice of compiler applies there too.
LABEL_HOST_TOOLCHAIN = "org.kgrader.host-toolchain"
ROOT_PREFIX = "kgrader-docker-"
WORKER_UID = 10001  # the image's unprivileged user; used when the grader itself runs as root

# Paths inside the container.
IN = PurePosixPath("/kg")
IN_XCHG, IN_CHAN, IN_HOME, IN_BUILD, IN_TMP = IN / "xchg", IN / "chan", IN / "home", IN / "build", PurePosixPath("/tmp")
IN_NVIDIA = IN / "nvidia"

# Host variables that mean the same thing inside a container; nothing else crosses.
PASSTHROUGH_ENV = ("TORCH_CUDA_ARCH_LIST", "LANG", *MULTICAST_ENV)

FIX_ENGINE = "start one with `sudo bash docker/start-dockerd.sh` (or set DOCKER_HOST)"
FIX_IMAGE = ("build it with `docker build -t kgrader-worker:latest .` (CUDA) "
             "or `bash docker/build-cpu-image.sh` (CPU only)")


def _client(timeout: int = 60):
    return docker.from_env(timeout=timeout)  # type: ignore[attr-defined]


def _engine_name() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def _find_image(client) -> str | None:
    wanted = os.environ.get("KG_DOCKER_IMAGE")
    for name in ([wanted] if wanted else IMAGES):
        try:
            client.images.get(name)
            return name
        except docker.errors.ImageNotFound:
            continue
    return None


def container_config(image: str, python: str, host_toolchain: bool, spec: WorkerSpec, root: Path,
                     uid: int | None) -> tuple[dict, dict[str, str]]:
    """What the container gets (the module docstring of sandbox/docker/backend.py), and where the spec's files
    are inside it."""
    from docker.types import LogConfig, Mount, Ulimit
    lim: Limits = spec.limits
    mounts = [Mount(str(IN_XCHG), str(root / "xchg"), type="bind"),
              Mount(str(IN_CHAN), str(root / "chan"), type="bind")]
    paths: dict[str, str] = {}
    for i, (name, host) in enumerate(sorted(spec.files.items())):
        inside = IN / "files" / f"{i}" / os.path.basename(host)
        mounts.append(Mount(str(inside), os.path.abspath(host), type="bind", read_only=True))
        paths[name] = str(inside)
    pythonpath = []
    for i, host in enumerate(spec.pythonpath):
        # Only what Python can import from the folder: a checkout's solutions/ and tests/ stay outside.
        inside = IN / "py" / f"{i}"
        for entry in importables(host, spec.packages):
            mounts.append(Mount(str(inside / entry), os.path.join(os.path.abspath(host), entry), type="bind",
                                read_only=True))
        pythonpath.append(str(inside))
    run_uid, run_gid = (uid, uid) if uid is not None else (os.getuid(), os.getgid())
    # Owned by the worker: runc copies the mode of a folder the image already has (the working
    # folder is made 0755 by the engine when the image lacks it), so mode=1777 alone is not enough.
    tmpfs_opts = f"rw,exec,nosuid,nodev,mode=1777,uid={run_uid},gid={run_gid}"
    disk = max(lim.disk_bytes, 1 << 20)
    tmpfs = {str(IN_TMP): f"{tmpfs_opts},size={disk}", str(IN_BUILD): f"{tmpfs_opts},size={disk}",
             str(IN_HOME): f"{tmpfs_opts},size={min(disk, 1 << 30)}"}

    python_dir = str(PurePosixPath(python).parent) if "/" in python else "/usr/local/bin"
    env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
    chain = discover() if host_toolchain else None
    if chain:  # the host's compilers are inside at the same paths: use the ones the host would
        env.update(chain.env)
        env.update({k: os.environ[k] for k in ("CUDA_HOME", "CUDA_PATH") if k in os.environ})
    env["PATH"] = ":".join(dict.fromkeys([python_dir, *(chain.path if chain else ()), *SYSTEM_PATH]))
    env.update(base_env(home=str(IN_HOME), tmp=str(IN_TMP), build=str(IN_BUILD),
                        channel=str(IN_CHAN / "chan.sock"), exchange=str(IN_XCHG), pythonpath=pythonpath))
    env.setdefault("LANG", "C.UTF-8")
    env["USER"] = env["LOGNAME"] = "kgrader"
    env.update(spec.env)

    ulimits = [Ulimit(name="core", soft=0, hard=0), Ulimit(name="fsize", soft=lim.file_bytes, hard=lim.file_bytes)]
    if lim.cpu_s:
        ulimits.append(Ulimit(name="cpu", soft=lim.cpu_s, hard=lim.cpu_s + 5))
    labels = {LABEL: "1", LABEL_HOST: socket.gethostname(), LABEL_PID: str(os.getpid()),
              LABEL_START: f"{psutil.Process().create_time():.3f}", LABEL_ROOT: str(root)}
    user = f"{run_uid}:{run_gid}"
    config = dict(
        image=image, command=[python, "-m", spec.module], user=user, working_dir=str(IN_TMP),
        environment=env, labels=labels, mounts=mounts, tmpfs=tmpfs, read_only=True,
        network_mode="bridge" if lim.network else "none", hostname="kgrader",
        cap_drop=["ALL"], security_opt=["no-new-privileges"], ipc_mode="private",
        pids_limit=lim.pids, ulimits=ulimits, stdin_open=False, tty=False, detach=True,
        log_config=LogConfig(type="json-file", config={"max-size": str(max(lim.log_bytes * 4, 1 << 20)),
                                                        "max-file": "2"}),
    )
    if lim.memory_bytes:
        config.update(mem_limit=lim.memory_bytes, memswap_limit=lim.memory_bytes)
    return config, paths
