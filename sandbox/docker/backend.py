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

The concerns apart: config.py (image, labels, what a container gets), devices.py (GPUs),
cgroups.py (the container as this host sees it; the limit checks of the shared watch loop),
reaping.py (containers left behind); this module the worker and the provider.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import weakref
from pathlib import Path

import psutil

from ..base import Limits, LogTail, Sandbox, SandboxError, Worker, WorkerSpec
from ..common import accept_channel, listen, remove_tree, scratch_root
from ..watchdog import WatchLoop
from .cgroups import ContainerView, exiting, limit_checks
from .config import (
    FIX_ENGINE,
    FIX_IMAGE,
    IMAGES,
    LABEL_HOST_TOOLCHAIN,
    LABEL_PYTHON,
    ROOT_PREFIX,
    WORKER_UID,
    _client,
    _engine_name,
    _find_image,
    container_config,
    docker,
)
from .devices import device_config, toolkit_config
from .reaping import reap_stale, track


class DockerWorker(Worker):
    def __init__(self, sandbox: DockerSandbox, spec: WorkerSpec, root: Path, container, listener: socket.socket):
        self.spec = spec
        self.root = root
        self.exchange = root / "xchg"
        self.container = container
        self.paths: dict[str, str] = {}
        self._sandbox = sandbox
        self._api = sandbox.client.api
        self._log = LogTail(spec.limits.log_bytes)
        self._cause: str | None = None
        self._exit: int | None = None
        self._oom = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._closed = False
        self._main: psutil.Process | None = None
        self.view = ContainerView(self._api, container.id)
        self._log_thread = threading.Thread(target=self._pump_log, daemon=True, name="docker-log")
        self._threads = [self._log_thread, threading.Thread(target=self._wait, daemon=True, name="docker-wait")]
        self._watchdog = WatchLoop(limit_checks(self.view, spec.limits, self.exchange), self.kill, 0.1,
                                   until=self._done)

    def _begin(self, listener: socket.socket) -> None:
        try:
            self._main = self.view.main_process()
            for t in self._threads:
                t.start()
            self._watchdog.start()
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
        # The log's stream ends with the container. Read to its end first: a caller told "exited" looks in log()
        # for the worker's last words (a traceback before it connected), which the engine can pass on late.
        self._log_thread.join(timeout=5)
        self._done.set()

    # -- Worker ----------------------------------------------------------------------------------
    def poll(self) -> int | None:
        if self._done.is_set():
            return self._exit
        # The engine learns of an exit a little after the kernel closed the worker's channel. A caller
        # that just read EOF must not see "still running": where the process is visible from here, ask
        # the kernel, and then wait for the engine's account of how it ended.
        main = self._main
        if main is not None and exiting(main) and self._done.wait(timeout=10):
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
        self._watchdog.stop()
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
        found = image or _find_image(self.client)
        if found is None:
            raise SandboxError(f"Docker image {os.environ.get('KG_DOCKER_IMAGE') or IMAGES[0]} is missing; {FIX_IMAGE}")
        self.image: str = found
        attrs = self.client.images.get(self.image).attrs
        config = attrs.get("Config") or {}
        labels = config.get("Labels") or {}
        self.python = labels.get(LABEL_PYTHON) or "python3"
        self.host_toolchain = labels.get(LABEL_HOST_TOOLCHAIN) == "1"
        self.image_env = dict(e.split("=", 1) for e in (config.get("Env") or []) if "=" in e)
        self._gpu_via_toolkit: bool | None = None
        self._live: weakref.WeakSet[DockerWorker] = weakref.WeakSet()
        track(self)
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

    def _run(self, config: dict, limits: Limits):
        """Create and start a container. Whether the engine has the NVIDIA toolkit shows only when a
        container with a GPU request starts ("could not select device driver"), so that is where the
        backend falls back to passing the device nodes and driver libraries itself."""
        if not limits.gpu:
            return self._started(config)
        if self._gpu_via_toolkit is not False:
            try:
                container = self._started(toolkit_config(config))
                self._gpu_via_toolkit = True
                return container
            except docker.errors.APIError as e:
                if "device driver" not in str(e) and "nvidia" not in str(e).lower():
                    raise
                self._gpu_via_toolkit = False
        return self._started(device_config(config, self.image_env))

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
            config, paths = container_config(self.image, self.python, self.host_toolchain, spec, root, uid)
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
