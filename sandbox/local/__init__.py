"""Local backend: the worker is a subprocess in its own session, with namespaces where the kernel allows.

Isolation, strongest first, each used when this machine permits it:
- bubblewrap (`bwrap`): new user, mount, PID, network, IPC and UTS namespaces; the worker runs as
  an unprivileged user with no capabilities and sees a read-only view of only what it needs (the
  system's /usr, the Python installation, the importable packages of its Python path, its files)
  plus its private folders, so nothing else on this machine - other submissions, files beside the
  problem, home folders - can be read, and nothing outside its own folders (the grader's source
  included) written (see docs/security.md);
- else `unshare` into new network, PID and mount namespaces: no network at all, and when the
  namespace's first process dies the kernel kills every process the worker started;
- a new session and process group, killed as a whole;
- rlimits (file size, core dumps) set before exec;
- a psutil watchdog over the process tree for memory and process count;
- a scrubbed environment with private HOME, TMPDIR and extension build folder.
"""

from __future__ import annotations

import functools
import glob
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from ..base import Limits, LogTail, Sandbox, SandboxError, Worker, WorkerSpec
from ..common import MULTICAST_ENV, accept_channel, base_env, importables, listen, remove_tree, scratch_root
from ..toolchain import SYSTEM_PATH, TOOLCHAIN_ENV, discover
from ..watchdog import Watchdog

# Variables a worker may inherit: they locate toolchains and GPUs, never credentials.
PASSTHROUGH_ENV = ("CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH",
                   "NVIDIA_VISIBLE_DEVICES", "TORCH_CUDA_ARCH_LIST", "LANG", *TOOLCHAIN_ENV, *MULTICAST_ENV)

UNSHARE_ARGS = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]


@functools.cache
def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(UNSHARE_ARGS + ["true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# -- bubblewrap -------------------------------------------------------------------------------------

JAIL = "/kg"                    # inside the jail: /kg/w is the worker's folder, /kg/files and /kg/py its inputs
PRIVATE_MOUNTS = ("/tmp", "/dev/shm", JAIL)  # the worker's own folders inside the jail
JAIL_UID = 65534                # the worker's user inside its user namespace
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/passwd",
             "/etc/group", "/etc/nsswitch.conf", "/etc/localtime", "/etc/os-release", "/etc/hosts")


def _system_binds() -> list[str]:
    """The operating system, read-only: /usr and its merged-/usr links, a few files of /etc, /sys."""
    args: list[str] = []
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for f in ETC_FILES:
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    if os.path.isdir("/sys"):
        args += ["--ro-bind", "/sys", "/sys"]
    return args


def _extra_ro_dirs() -> list[str]:
    """The Python installation and the toolchain's folders outside /usr, bound read-only at the same paths."""
    import site
    import sysconfig

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    found.update(site.getsitepackages())
    # Package folders a .pth file adds (a venv that borrows another installation's packages): the worker's
    # interpreter reads the same .pth and looks there. Only package folders, never a checkout on the path.
    found.update(p for p in sys.path if os.path.basename(p.rstrip("/")) in ("site-packages", "dist-packages"))
    if site.ENABLE_USER_SITE:
        found.add(site.getusersitepackages())
    found.update(sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib", "include"))
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            found.add(os.environ[var])
    for var in ("LD_LIBRARY_PATH", "KG_SANDBOX_RO_PATHS"):  # the latter: extra folders an operator allows
        found.update(p for p in os.environ.get(var, "").split(os.pathsep) if p)
    found.update(discover().dirs)  # compilers and CUDA wherever they are installed (/opt/gcc, conda, modules)
    dirs = sorted({os.path.realpath(d) for d in found if d and os.path.isabs(d) and os.path.isdir(d)})
    kept: list[str] = []
    for d in dirs:
        if d == "/" or d.startswith("/usr/") or any(d.startswith(k.rstrip("/") + "/") for k in kept):
            continue
        kept.append(d)
    return kept


def _ro_binds() -> list[str]:
    # After the private folders, so that a Python installed under /tmp (a CI virtualenv, say) shows
    # through the worker's own /tmp; a folder that would cover a private one entirely is left out.
    shown = _extra_ro_dirs()
    binds = [a for d in shown if not any(private == d or private.startswith(d + "/")
                                         for private in PRIVATE_MOUNTS) for a in ("--ro-bind", d, d)]
    # A link inside a bound folder is there already (bwrap refuses to make it again).
    links = {link: target for link, target in discover().links.items()
             if not any(link == d or link.startswith(d + "/") for d in shown)}
    return binds + [a for link, target in links.items() for a in ("--symlink", target, link)]


def _bwrap_base(network: bool) -> list[str]:
    args = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--unshare-all", "--unshare-user",
            "--uid", str(JAIL_UID), "--gid", str(JAIL_UID), "--cap-drop", "ALL", "--hostname", "kgrader"]
    if network:
        args.append("--share-net")
    return args + ["--proc", "/proc", "--dev", "/dev"] + _system_binds()


def bwrap_argv(spec: WorkerSpec, root: Path) -> tuple[list[str], dict[str, str], list[str]]:
    """bwrap's arguments up to the command, spec.files as the worker sees them, and its Python path."""
    args = _bwrap_base(spec.limits.network)
    if spec.limits.gpu:
        for dev in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri")):
            args += ["--dev-bind", dev, dev]
    (root / "shm").mkdir(mode=0o700, exist_ok=True)
    args += ["--bind", str(root), f"{JAIL}/w", "--bind", str(root / "tmp"), "/tmp",
             "--bind", str(root / "shm"), "/dev/shm"]
    args += _ro_binds()
    paths: dict[str, str] = {}
    for i, (name, host) in enumerate(sorted(spec.files.items())):
        inside = f"{JAIL}/files/{i}/{os.path.basename(host)}"
        args += ["--ro-bind", os.path.abspath(host), inside]
        paths[name] = inside
    pythonpath: list[str] = []
    for i, host in enumerate(spec.pythonpath):
        inside = f"{JAIL}/py/{i}"
        args += ["--dir", inside]
        for entry in importables(host, spec.packages):
            args += ["--ro-bind", os.path.join(host, entry), f"{inside}/{entry}"]
        pythonpath.append(inside)
    # Last: the jail's own root and /dev become read-only; only the binds above stay writable.
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]
    return args, paths, pythonpath


@functools.cache
def _bwrap_works() -> bool:
    if not shutil.which("bwrap"):
        return False
    try:
        argv = _bwrap_base(False) + ["--remount-ro", "/", "--", "true"]
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def isolation() -> str:
    """What the local backend isolates workers with here: 'bwrap', 'unshare' or 'none'.

    KG_LOCAL_ISOLATION (bwrap, unshare or none) picks a weaker one on purpose, for example where
    bubblewrap cannot reach a GPU driver; the default takes the strongest that works."""
    want = os.environ.get("KG_LOCAL_ISOLATION", "auto")
    if want in ("auto", "bwrap") and _bwrap_works():
        return "bwrap"
    if want in ("auto", "bwrap", "unshare") and _unshare_works():
        return "unshare"
    return "none"


def namespaces_available() -> bool:
    """True when workers get their own network and PID namespaces (bwrap or unshare)."""
    return isolation() != "none"


def _passed_env() -> dict[str, str]:
    """What a worker inherits: the allowed variables, and a PATH that finds the host's toolchain."""
    env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
    # The toolchain's own folders first, so a compiler named by a bare name is the one the host runs.
    env["PATH"] = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable), *discover().path, *SYSTEM_PATH]))
    return env


def run_jailed(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a trusted command in the bwrap jail as a worker sees the machine (its folders, PATH and
    toolchain variables), with a throwaway /tmp: `grader doctor` asks the compilers this way."""
    with tempfile.TemporaryDirectory(prefix="kgrader-probe-") as tmp:
        jail = _bwrap_base(False) + ["--bind", tmp, "/tmp", *_ro_binds(), "--remount-ro", "/", "--chdir", "/tmp"]
        return subprocess.run([*jail, "--", *argv], env={**_passed_env(), "HOME": "/tmp", "LANG": "C.UTF-8"},
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _preexec(limits: Limits):
    def apply():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        if limits.cpu_s:
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
        # The worker must not outlive the grader, even if the grader is SIGKILLed.
        try:
            import ctypes
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    return apply


def _wait_dead(procs: list[psutil.Process], timeout: float) -> None:
    """Return once every process is gone or a zombie: after kill(), nothing of the worker runs any more
    (when the namespace's first process has died, the kernel has reaped everything else in it)."""
    deadline = time.monotonic() + timeout
    for p in procs:
        while time.monotonic() < deadline:
            try:
                if not p.is_running() or p.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.01)


class LocalWorker(Worker):
    def __init__(self, spec: WorkerSpec, root: Path, proc: subprocess.Popen, listener: socket.socket,
                 log: LogTail, paths: dict[str, str] | None = None, jailed: bool = False):
        self.spec = spec
        self.root = root
        self.exchange = root / "xchg"
        self.paths = dict(spec.files) if paths is None else paths
        self._jailed = jailed
        self._proc = proc
        self._log = log
        self._cause: str | None = None
        self._lock = threading.Lock()
        self.watchdog = Watchdog(proc.pid, spec.limits, [root], on_breach=self.kill)
        self.watchdog.start()
        try:
            self.channel = accept_channel(listener, spec.connect_timeout_s, self)
        except BaseException:
            self.close()
            raise
        finally:
            listener.close()
            (root / "chan.sock").unlink(missing_ok=True)

    def poll(self) -> int | None:
        code = self._proc.poll()
        if self._jailed and code is not None and 128 < code < 128 + signal.NSIG:
            return -(code - 128)  # bwrap reports a child killed by signal N as 128+N, unshare as -N
        return code

    def kill(self, cause: str | None = None) -> None:
        with self._lock:
            if cause and self._cause is None and self._proc.poll() is None:
                self._cause = cause
        pids = [self._proc.pid, *self.watchdog.seen_pids()]
        alive = []
        for pid in pids:
            try:
                alive.append(psutil.Process(pid))  # remembers its start time: a reused PID is not waited for
            except psutil.Error:
                pass
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _wait_dead(alive, 5.0)

    def stop_cause(self) -> str | None:
        return self._cause

    def pause(self) -> None:
        # A process can fork while the tree is being stopped: walk it again until a walk finds no one new.
        stopped: dict[int, psutil.Process] = {}
        while True:
            new = [p for p in self.watchdog.tree() if p.pid not in stopped]
            if not new:
                break
            for proc in new:
                try:
                    proc.suspend()
                except psutil.Error:
                    pass
                stopped[proc.pid] = proc
        # SIGSTOP takes effect when a process is next scheduled: one waiting for a busy core still reads as
        # running. Return once every one has stopped (or is gone), so what is timed next runs alone.
        deadline = time.monotonic() + PAUSE_WAIT_S
        waiting = list(stopped.values())
        while waiting and time.monotonic() < deadline:
            waiting = [p for p in waiting if _still_running(p)]
            if waiting:
                time.sleep(0.001)

    def resume(self) -> None:
        for proc in self.watchdog.tree():
            try:
                proc.resume()
            except psutil.Error:
                pass

    def log(self) -> str:
        return self._log.text()

    def close(self) -> None:
        self.kill()
        self.watchdog.stop()
        if hasattr(self, "channel"):
            self.channel.close()
        remove_tree(self.root)


PAUSE_WAIT_S = 2.0  # how long pause() waits for the processes it stopped to read as stopped


def _still_running(proc: psutil.Process) -> bool:
    try:
        return proc.status() not in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP, psutil.STATUS_ZOMBIE,
                                     psutil.STATUS_DEAD)
    except psutil.Error:
        return False


class LocalSandbox(Sandbox):
    name = "local"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return True, ""

    def start(self, spec: WorkerSpec) -> LocalWorker:
        root = Path(tempfile.mkdtemp(prefix="kgrader-", dir=scratch_root()))
        for sub in ("home", "tmp", "build", "xchg"):
            (root / sub).mkdir(mode=0o700)
        listener = listen(root / "chan.sock")

        env = _passed_env()
        argv = [sys.executable, "-m", spec.module]
        how = isolation()
        paths = None
        if how == "bwrap":
            jail, paths, pythonpath = bwrap_argv(spec, root)
            w = f"{JAIL}/w"
            env.update(base_env(home=f"{w}/home", tmp=f"{w}/tmp", build=f"{w}/build", channel=f"{w}/chan.sock",
                                exchange=f"{w}/xchg", pythonpath=pythonpath))
            env["USER"] = env["LOGNAME"] = "kgrader"
            argv = jail + ["--"] + argv
        else:
            env.update(base_env(home=str(root / "home"), tmp=str(root / "tmp"), build=str(root / "build"),
                                channel=str(root / "chan.sock"), exchange=str(root / "xchg"),
                                pythonpath=spec.pythonpath))
            if how == "unshare" and not spec.limits.network:
                argv = UNSHARE_ARGS + ["--"] + argv
        env.setdefault("LANG", "C.UTF-8")
        env.update(spec.env)
        log = LogTail(spec.limits.log_bytes)
        try:
            proc = subprocess.Popen(argv, env=env, cwd=root / "tmp", stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_preexec(spec.limits))
        except OSError as e:
            listener.close()
            shutil.rmtree(root, ignore_errors=True)
            raise SandboxError(f"cannot start worker: {e}") from e
        log.pump(proc.stdout)
        return LocalWorker(spec, root, proc, listener, log, paths=paths, jailed=how == "bwrap")

