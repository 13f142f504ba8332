"""Docker backend: each worker runs in a throwaway container.

What the container gets, and nothing more:
- no network at all (network_mode "none") unless Limits.network;
- a memory cgroup limit with no swap (mem_limit == memswap_limit), a pids cgroup limit,
  rlimits for file size, core dumps and CPU time;
- a read-only root file system; size-capped tmpfs for /tmp, HOME and the extension build folder
  (their pages also count against the memory limit);
- no capabilities, no-new-privileges, a non-root user;
- the GPUs through the NVIDIA container toolkit (device_requests), or, where the engine has no
  toolkit, the /dev/nvidia* devices and the host's driver libraries mounted read-only;
- the caller's files and Python folders read-only; one private exchange folder and one folder
  holding the channel's socket, both host folders bind-mounted read-write.

Every container carries labels naming its owner (host, pid, process start time) and its host
folder, so that a grader that died without cleaning up is cleaned up after by the next one.
"""

from __future__ import annotations

import atexit
import glob
import os
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path, PurePosixPath

import psutil

from .. import gpu_memory
from ..base import Limits, LogTail, Sandbox, SandboxError, Worker, WorkerSpec
from ..common import accept_channel, base_env, importables, listen, remove_tree, scratch_root
from ..toolchain import SYSTEM_PATH, discover
from ..watchdog import folder_bytes

try:  # the SDK is only needed when this backend is used
    import docker.errors
    from docker.types import DeviceRequest, LogConfig, Mount, Ulimit

    import docker
except ImportError:  # pragma: no cover - reported by available()
    docker = None

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
PASSTHROUGH_ENV = ("TORCH_CUDA_ARCH_LIST", "LANG")

FIX_ENGINE = "start one with `sudo bash docker/start-dockerd.sh` (or set DOCKER_HOST)"
FIX_IMAGE = ("build it with `docker build -t kgrader-worker:latest .` (CUDA) "
             "or `bash docker/build-cpu-image.sh` (CPU only)")


def _client(timeout: int = 60):
    return docker.from_env(timeout=timeout)


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


def _owner_alive(labels: dict[str, str]) -> bool:
    try:
        proc = psutil.Process(int(labels.get(LABEL_PID, "0")))
        return abs(proc.create_time() - float(labels.get(LABEL_START, "0"))) < 1.0
    except (psutil.Error, ValueError):
        return False


def reap_stale(client) -> list[str]:
    """Remove this host's sandbox containers (and their folders) whose grader process is gone."""
    removed = []
    host = socket.gethostname()
    try:
        stale = client.containers.list(all=True, filters={"label": LABEL})
    except docker.errors.DockerException:
        return removed
    for c in stale:
        labels = c.labels or {}
        if labels.get(LABEL_HOST) != host or _owner_alive(labels):
            continue
        try:
            c.remove(force=True, v=True)
            removed.append(c.id)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            continue
        root = labels.get(LABEL_ROOT, "")
        if root and Path(root).name.startswith(ROOT_PREFIX):
            remove_tree(Path(root))
    return removed


def _nvidia_devices() -> list[str]:
    paths = [p for p in glob.glob("/dev/nvidia*") + glob.glob("/dev/nvidia-caps/*")
             if os.path.exists(p) and not os.path.isdir(p)]
    return [f"{p}:{p}:rwm" for p in sorted(paths)]


DRIVER_LIBS = ("libcuda.so", "libnvidia-", "libcudadebugger.so", "libnvcuvid.so", "libnvoptix.so")


def _driver_libraries() -> dict[str, str]:
    """soname -> host file of the NVIDIA user-space driver, found as the dynamic loader finds it."""
    found: dict[str, str] = {}
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        name, _, path = line.strip().partition(" => ")
        name = name.split(" ")[0]
        if "x86-64" in line or "x86_64" in path or "aarch64" in line:
            if name.startswith(DRIVER_LIBS) and os.path.exists(path):
                found.setdefault(name, os.path.realpath(path))
    extra = os.environ.get("LD_LIBRARY_PATH", "").split(":") + [
        "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64"]
    for d in filter(None, extra):
        for path in glob.glob(os.path.join(d, "lib*.so*")):
            name = os.path.basename(path)
            if name.startswith(DRIVER_LIBS) and os.path.exists(path):
                found.setdefault(name, os.path.realpath(path))
    return found


PF_EXITING = 0x4  # set by the kernel when a process starts to exit, before it closes its files


def _exiting(proc: psutil.Process) -> bool:
    """True once the process has begun to exit (or is gone); a dead worker's socket closes after this."""
    try:
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if not proc.is_running():  # the pid now belongs to another process
            return True
        return fields[0] in ("Z", "X", "x") or bool(int(fields[6]) & PF_EXITING)
    except (OSError, IndexError, ValueError, psutil.Error):
        return True


class DockerWorker(Worker):
    def __init__(self, sandbox: DockerSandbox, spec: WorkerSpec, root: Path, container, listener: socket.socket):
        self.spec = spec
        self.root = root
        self.exchange = root / "xchg"
        self.container = container
        self.paths: dict[str, str] = {}
        self.peak_memory = 0
        self._sandbox = sandbox
        self._api = sandbox.client.api
        self._log = LogTail(spec.limits.log_bytes)
        self._cause: str | None = None
        self._exit: int | None = None
        self._oom = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._main: psutil.Process | None = None
        self._cgroup: dict[str, Path] = {}
        self._threads = [threading.Thread(target=f, daemon=True, name=f"docker-{n}")
                         for n, f in (("log", self._pump_log), ("wait", self._wait), ("watch", self._watch))]

    def _begin(self, listener: socket.socket) -> None:
        try:
            self._main = self._main_process()
            for t in self._threads:
                t.start()
            self.channel = accept_channel(listener, self.spec.connect_timeout_s, self)
        except BaseException:
            self.close()
            raise
        finally:
            listener.close()
            (self.root / "chan" / "chan.sock").unlink(missing_ok=True)

    # -- threads -------------------------------------------------------------------------------
    def _pump_log(self) -> None:
        try:
            for chunk in self._api.logs(self.container.id, stream=True, follow=True):
                self._log.feed(chunk)
        except Exception:  # container removed under us: the log ends there
            pass

    def _wait(self) -> None:
        code = None
        try:
            code = self._api.wait(self.container.id, timeout=None).get("StatusCode")
            state = self._api.inspect_container(self.container.id)["State"]
            self._oom = bool(state.get("OOMKilled"))
            code = state.get("ExitCode", code)
        except Exception:
            pass
        # Like a subprocess: a worker ended by signal N reads as -N (the engine reports 128 + N).
        if code is not None and 128 < code < 160:
            code = 128 - code
        self._exit = -9 if code is None else code
        self._done.set()

    def _watch(self) -> None:
        """What the cgroups only refuse, the backend reports: pids at the cap, the exchange folder, GPU memory."""
        lim = self.spec.limits
        ticks = 0
        while not self._stop.wait(0.1) and not self._done.is_set():
            ticks += 1
            cause = None
            pids = self._cgroup_value("pids", ("pids.current",))
            if pids is None and ticks % 5 == 0:
                pids = self._stats_pids()
            if pids is not None and pids >= lim.pids:
                cause = "pids"
            mem = self._cgroup_value("memory", ("memory.usage_in_bytes", "memory.current"))
            if mem:
                self.peak_memory = max(self.peak_memory, mem)
            if cause is None and lim.disk_bytes and ticks % 5 == 0 and folder_bytes(self.exchange) > lim.disk_bytes:
                cause = "disk"
            if cause is None and lim.gpu_memory_bytes and ticks % 2 == 0:
                if gpu_memory.used_by(self._host_pids()) > lim.gpu_memory_bytes:
                    cause = "gpu_memory"
            if cause:
                self.kill(cause)
                return

    def _cgroup_value(self, controller: str, files: tuple[str, ...]) -> int | None:
        """Read the container's cgroup from this host when the engine runs here; None otherwise."""
        if controller not in self._cgroup:
            pid = self._state_pid()
            if pid is None:
                return None
            self._cgroup[controller] = self._find_cgroup(pid, controller, files)
        path = self._cgroup[controller]
        if path is None:
            return None
        try:
            return int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _find_cgroup(self, pid: int, controller: str, files: tuple[str, ...]) -> Path | None:
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _hid, ctrls, rel = line.split(":", 2)
            if self.container.id not in rel:
                continue  # not this container's: the engine runs elsewhere, or the process is another one
            names = ctrls.split(",") if ctrls else []
            bases = ([Path("/sys/fs/cgroup") / ctrls] if controller in names else
                     [Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")] if not ctrls else [])
            for base in bases:
                for f in files:
                    candidate = base / rel.lstrip("/") / f
                    if candidate.exists():
                        return candidate
        return None

    _pid: int | None = None

    def _state_pid(self) -> int | None:
        if self._pid is None:
            try:
                self._pid = int(self._api.inspect_container(self.container.id)["State"].get("Pid") or 0) or None
            except Exception:
                return None
        return self._pid

    def _stats_pids(self) -> int | None:
        try:
            stats = self._api.stats(self.container.id, stream=False, one_shot=True)
            return int(stats.get("pids_stats", {}).get("current") or 0) or None
        except Exception:
            return None

    def _host_pids(self) -> set[int]:
        pid = self._state_pid()
        try:
            root = psutil.Process(pid)
            return {pid, *(p.pid for p in root.children(recursive=True))}
        except (psutil.Error, TypeError, ValueError):
            return set()

    def _main_process(self) -> psutil.Process | None:
        """The worker's process as this host sees it, when the engine runs here (checked by its cgroup)."""
        pid = self._state_pid()
        try:
            if pid and self.container.id in Path(f"/proc/{pid}/cgroup").read_text():
                return psutil.Process(pid)
        except (OSError, psutil.Error):
            pass
        return None

    # -- Worker ----------------------------------------------------------------------------------
    def poll(self) -> int | None:
        if self._done.is_set():
            return self._exit
        # The engine learns of an exit a little after the kernel closed the worker's channel. A caller
        # that just read EOF must not see "still running": where the process is visible from here, ask
        # the kernel, and then wait for the engine's account of how it ended.
        main = self._main
        if main is not None and _exiting(main) and self._done.wait(timeout=10):
            return self._exit
        return None

    def kill(self, cause: str | None = None) -> None:
        with self._lock:
            if cause and self._cause is None and not self._done.is_set():
                self._cause = cause
        if not self._done.is_set():
            self.resume()  # an engine refuses to kill a paused container
            try:
                self._api.kill(self.container.id, "SIGKILL")
            except docker.errors.APIError:
                pass  # already stopped, or gone
        self._done.wait(timeout=15)

    def stop_cause(self) -> str | None:
        if self._cause:
            return self._cause
        return "memory" if self._oom else None

    def pause(self) -> None:
        try:  # the cgroup freezer: every process of the container, forks included
            self._api.pause(self.container.id)
        except docker.errors.APIError:
            pass  # already stopped: nothing left to run

    def resume(self) -> None:
        try:
            self._api.unpause(self.container.id)
        except docker.errors.APIError:
            pass

    def log(self) -> str:
        return self._log.text()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.kill()
        if hasattr(self, "channel"):
            self.channel.close()
        try:
            self._api.remove_container(self.container.id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            # A removal already under way; make sure it finishes.
            time.sleep(0.2)
            try:
                self._api.remove_container(self.container.id, force=True, v=True)
            except docker.errors.APIError:
                pass
        for t in self._threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join(timeout=5)
        remove_tree(self.root)
        self._sandbox._live.discard(self)


class DockerSandbox(Sandbox):
    name = "docker"
    _reaped: set[str] = set()

    def __init__(self, image: str | None = None, client=None):
        if docker is None:
            raise SandboxError("the Docker backend needs the `docker` Python package: `pip install docker`")
        try:
            self.client = client or _client()
            self.client.ping()
        except Exception as e:  # the SDK lets some connection errors through unwrapped
            raise SandboxError(f"no Docker engine answers at {_engine_name()} ({e}); {FIX_ENGINE}") from e
        self.image = image or _find_image(self.client)
        if self.image is None:
            raise SandboxError(f"Docker image {os.environ.get('KG_DOCKER_IMAGE') or IMAGES[0]} is missing; {FIX_IMAGE}")
        attrs = self.client.images.get(self.image).attrs
        config = attrs.get("Config") or {}
        labels = config.get("Labels") or {}
        self.python = labels.get(LABEL_PYTHON) or "python3"
        self.host_toolchain = labels.get(LABEL_HOST_TOOLCHAIN) == "1"
        self.image_env = dict(e.split("=", 1) for e in (config.get("Env") or []) if "=" in e)
        self._gpu_via_toolkit: bool | None = None
        self._live: weakref.WeakSet[DockerWorker] = weakref.WeakSet()
        _track(self)
        key = str(self.client.api.base_url)
        if key not in DockerSandbox._reaped:
            DockerSandbox._reaped.add(key)
            reap_stale(self.client)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if docker is None:
            return False, "the Docker backend needs the `docker` Python package: `pip install docker`"
        try:
            client = _client(timeout=5)
            client.ping()
        except Exception as e:  # the SDK lets some connection errors through unwrapped
            msg = str(e)
            if "Permission denied" in msg:
                return False, (f"no permission on the Docker socket at {_engine_name()}: "
                               "`sudo usermod -aG docker $USER`, then log in again")
            return False, f"no Docker engine answers at {_engine_name()}; {FIX_ENGINE}"
        try:
            image = _find_image(client)
        except docker.errors.DockerException as e:
            return False, f"the Docker engine at {_engine_name()} failed to list images: {e}"
        finally:
            client.close()
        if image is None:
            return False, f"Docker image {os.environ.get('KG_DOCKER_IMAGE') or IMAGES[0]} is missing; {FIX_IMAGE}"
        return True, ""

    # -- building the container ------------------------------------------------------------------
    def _folders(self) -> tuple[Path, int | None]:
        root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=scratch_root()))
        uid = WORKER_UID if os.geteuid() == 0 else None
        for sub in ("xchg", "chan"):
            (root / sub).mkdir(mode=0o700)
            if uid is not None:
                os.chown(root / sub, uid, uid)
        return root, uid

    def _config(self, spec: WorkerSpec, root: Path, uid: int | None) -> tuple[dict, dict[str, str]]:
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

        python_dir = str(PurePosixPath(self.python).parent) if "/" in self.python else "/usr/local/bin"
        env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
        chain = discover() if self.host_toolchain else None
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
            image=self.image, command=[self.python, "-m", spec.module], user=user, working_dir=str(IN_TMP),
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

    def _gpu_toolkit(self, config: dict) -> dict:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES") or os.environ.get("NVIDIA_VISIBLE_DEVICES")
        ids = [d for d in (visible or "").split(",") if d and visible != "all"]
        request = (DeviceRequest(device_ids=ids, capabilities=[["gpu"]]) if ids
                   else DeviceRequest(count=-1, capabilities=[["gpu"]]))
        config = dict(config, device_requests=[request])
        config["environment"] = dict(config["environment"], NVIDIA_DRIVER_CAPABILITIES="compute,utility")
        return config

    def _gpu_devices(self, config: dict) -> dict:
        """No toolkit in the engine: pass the device nodes and mount the host's driver libraries read-only."""
        devices = _nvidia_devices()
        if not devices:
            raise SandboxError("Limits.gpu is set but this host has no /dev/nvidia* devices")
        mounts = list(config["mounts"])
        for name, host in sorted(_driver_libraries().items()):
            mounts.append(Mount(str(IN_NVIDIA / "lib" / name), host, type="bind", read_only=True))
        for tool in ("nvidia-smi",):
            path = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
            if path:
                mounts.append(Mount(str(IN_NVIDIA / "bin" / tool), os.path.realpath(path), type="bind", read_only=True))
        env = dict(config["environment"])
        inherited = env.get("LD_LIBRARY_PATH") or self.image_env.get("LD_LIBRARY_PATH", "")
        env["LD_LIBRARY_PATH"] = ":".join(filter(None, [str(IN_NVIDIA / "lib"), inherited]))
        env["PATH"] = f"{env['PATH']}:{IN_NVIDIA / 'bin'}"
        # Device nodes keep their host owner and mode: join the groups that may open them.
        groups = sorted({os.stat(d.split(":")[0]).st_gid for d in devices
                         if not os.stat(d.split(":")[0]).st_mode & 0o006})
        return dict(config, devices=devices, mounts=mounts, environment=env,
                    group_add=[str(g) for g in groups if g != 0] or None)

    def _run(self, config: dict, limits: Limits):
        """Create and start a container. Whether the engine has the NVIDIA toolkit shows only when a
        container with a GPU request starts ("could not select device driver"), so that is where the
        backend falls back to passing the device nodes and driver libraries itself."""
        if not limits.gpu:
            return self._started(config)
        if self._gpu_via_toolkit is not False:
            try:
                container = self._started(self._gpu_toolkit(config))
                self._gpu_via_toolkit = True
                return container
            except docker.errors.APIError as e:
                if "device driver" not in str(e) and "nvidia" not in str(e).lower():
                    raise
                self._gpu_via_toolkit = False
        return self._started(self._gpu_devices(config))

    def _started(self, config: dict):
        container = self.client.containers.create(**config)
        try:
            container.start()
        except docker.errors.DockerException:
            container.remove(force=True, v=True)
            raise
        return container

    def start(self, spec: WorkerSpec) -> DockerWorker:
        root, uid = self._folders()
        listener = None
        container = None
        try:
            listener = listen(root / "chan" / "chan.sock")
            os.chmod(root / "chan" / "chan.sock", 0o666)  # the folder, 0700 and the worker's, guards it
            config, paths = self._config(spec, root, uid)
            container = self._run(config, spec.limits)
            worker = DockerWorker(self, spec, root, container, listener)
            worker.paths = paths
            self._live.add(worker)
        except (docker.errors.DockerException, OSError) as e:
            if listener is not None:
                listener.close()
            if container is not None:
                try:
                    container.remove(force=True, v=True)
                except docker.errors.DockerException:
                    pass
            remove_tree(root)
            raise SandboxError(f"cannot start worker container: {e}") from e
        worker._begin(listener)
        return worker

    def close_all(self) -> None:
        for w in list(self._live):
            w.close()


_sandboxes: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()


def _track(sb: DockerSandbox) -> None:
    _sandboxes.add(sb)


@atexit.register
def _close_everything() -> None:  # a grader that exits normally leaves nothing behind
    for sb in list(_sandboxes):
        try:
            sb.close_all()
        except Exception:
            pass
