"""The compile cache: a solution's `load_inline` builds, shared by gradings and processes, safe from poisoning.

How a build flows (see docs/security.md, "Compile cache"):
- the candidate worker's `load_inline` is a shim (grader/jail/build_shim.py) that sends its arguments to the
  grader as a `build` frame while the grader waits for the load reply;
- the grader (`CompileService`) validates them (`BuildRequest`, `refused_flag`) and computes the key itself:
  the request plus the toolchain (torch, CUDA, compiler, Python, target arch, sandbox image);
- on a miss a fresh jailed builder worker (grader/jail/builder.py) compiles exactly that request and nothing
  else; the grader reads the .so back, records its SHA-256 and renames the entry into the cache;
- on a hit (the hash checked again) or after the build, the .so is copied into a new folder of that
  candidate's own exchange folder, and the shim imports it from there.
Workers never see the cache folder. Only this module writes it.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from grader.jail.builder import PCH_OUT
from grader.protocol.messages import BuildOrder, BuildReply, BuildRequest

ENV_DIR = "KG_COMPILE_CACHE"          # the cache folder; "off" disables the cache
ENV_MAX_MB = "KG_COMPILE_CACHE_MAX_MB"
DEFAULT_MAX_MB = 4096
LAYOUT = "v1"
SO_NAME = "ext.so"   # the library in the builder's exchange folder
BLOB = "blob"        # the file of an entry: a library or an object file
MAX_SO_BYTES = 1 << 30
MAX_SOURCE_BYTES = 4 << 20
MAX_BUILDS = 8                        # extensions one grading may build
PCH_WAIT_S = 180                      # longest a build waits for a header that `grader cache warm` is making

# Flag checks. Flags reach a shell through ninja unquoted, so only plain characters are allowed;
# then options that run other programs, load plugins, read options from files or write outside the
# build folder are refused (the jailed builder could do little harm with them; this keeps its
# output a function of the key alone, and states it).
SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_=,.+:/%\-]+$")
REFUSED_PREFIXES = ("-fplugin", "-wrapper", "-specs", "--specs", "--output", "-ccbin", "--compiler-bindir",
                    "-save-temps", "--save-temps", "-keep", "--keep", "-odir", "--output-directory", "-fdump",
                    "-fprofile", "-MF", "-MT", "-MQ", "-run", "--run", "-optf", "--options-file", "-plugin",
                    "--plugin", "--script", "-Map", "--Map", "-dT", "--dependency-file", "-fuse-ld", "--ld-path",
                    "--dryrun", "-dryrun")
REFUSED_SHORT = ("-o", "-x", "-E", "-T", "-B")   # alone or glued to their value (-ofile, -B/path)
# C++ flags under which the precompiled torch/extension.h is made and shared: options of code generation,
# language, warnings and macros, none naming a file (no '/' or '.': `-include main.cpp` from the build folder
# would put a solution's code into a header that other solutions' builds read).
PCH_FLAG = re.compile(r"^(-O[0-3sgz]?|-Ofast|-std=[a-z0-9+]+|-m[a-z0-9=-]+|-f[a-z0-9-]+(=[a-z0-9]+)?|-w|-W[a-z0-9-]+"
                      r"|-D[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_]*)?|-U[A-Za-z_][A-Za-z0-9_]*|-g[0-9a-z]*|-pthread)$")
PASSED_ON = ("-Xcompiler", "--compiler-options", "-Xlinker", "--linker-options", "-Wl,", "-Wa,", "-Wp,",
             "-Xptxas", "--ptxas-options", "-Xnvlink", "--nvlink-options", "-Xarchive", "-Xfatbin")


class CacheEntry(BaseModel):
    """meta.json of one entry: what the .so beside it must hash to."""

    model_config = ConfigDict(extra="forbid")
    key: str
    name: str
    sha256: str
    size: int
    created: float
    build_s: float


class CacheInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    enabled: bool
    entries: int = 0
    bytes: int = 0
    max_bytes: int = 0


class BuildOutcome(BaseModel):
    """What the grader tells the shim: the folder (inside the worker's exchange) holding NAME.so, or the log."""

    model_config = ConfigDict(extra="forbid")
    ok: bool
    built: bool = True   # marks the frame as the answer to a build request
    folder: str = ""
    cached: bool = False
    log: str = ""


def refused_flag(req: BuildRequest) -> str | None:
    """The first flag the builder will not pass on, with why; None when all are acceptable."""
    for where, flags in (("extra_cflags", req.extra_cflags), ("extra_cuda_cflags", req.extra_cuda_cflags),
                         ("extra_ldflags", req.extra_ldflags)):
        for flag in flags:
            for token in flag.split():
                why = _token_refused(token)
                if why:
                    return f"{where}: {token!r} {why}"
    for path in req.extra_include_paths:
        if not path or not SAFE_TOKEN.match(path) or path.startswith("-"):
            return f"extra_include_paths: {path!r} is not a plain folder path"
    return None


def _token_refused(token: str) -> str | None:
    if not SAFE_TOKEN.match(token):
        return "holds characters a shell would interpret"
    if token.startswith(REFUSED_PREFIXES) or token[:2] in REFUSED_SHORT:
        return "could run another program, load a plugin, read options from a file or write outside the build"
    for prefix in PASSED_ON:
        if token.startswith(prefix):
            for part in re.split(r"[,=]", token[len(prefix):]):
                why = _token_refused(part) if part else None
                if why:
                    return f"passes on {part!r}, which {why}"
    return None


# -- the key ------------------------------------------------------------------------------------------

def _version_of(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "absent"


@functools.cache
def host_toolchain() -> dict[str, str]:
    """What the local backend's builder compiles with: it sees this machine's /usr and Python."""
    import sysconfig

    import torch
    from torch.utils import cpp_extension as ce

    cxx = os.environ.get("CXX", "c++")
    cuda_home = ce.CUDA_HOME or ""
    nvcc = os.path.join(cuda_home, "bin", "nvcc") if cuda_home else ""
    return {"torch": torch.__version__, "torch_git": torch.version.git_version, "torch_cuda": torch.version.cuda or "",
            "torch_path": os.path.dirname(torch.__file__), "python": sys.version, "executable": sys.executable,
            "soabi": str(sysconfig.get_config_var("SOABI")),
            "cxx": " ".join([str(shutil.which(cxx)), os.path.realpath(shutil.which(cxx) or cxx),
                             _version_of([cxx, "--version"])]),
            "nvcc": _version_of([nvcc, "--version"]) if nvcc and os.path.exists(nvcc) else "absent",
            **{k: os.environ.get(k, "") for k in ("CC", "CUDA_HOME", "CUDA_PATH", "LD_LIBRARY_PATH")}}


def toolchain(box, arch: str) -> dict[str, str]:
    """The toolchain a builder in `box` uses: the image for Docker, this machine for the local backend."""
    if box.name == "docker":
        try:
            image = box.client.images.get(box.image).id
        except Exception:  # an image that cannot be identified is never shared
            image = f"unidentified-{secrets.token_hex(8)}"
        return {"sandbox": "docker", "image": image, "arch": arch}
    return {"sandbox": box.name, **host_toolchain(), "arch": arch}


def _digest(what: dict, tools: dict[str, str]) -> str:
    blob = json.dumps({"layout": LAYOUT, "what": what, "toolchain": tools}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_key(req: BuildRequest, tools: dict[str, str]) -> str:
    """The library's key: every argument of the request and the toolchain."""
    return _digest({"library": req.model_dump(mode="json")}, tools)


def object_keys(req: BuildRequest, tools: dict[str, str]) -> dict[str, str]:
    """Keys of the object files a build makes, each from only what torch's build puts into that object.

    main.o (the sources, the pybind11 bindings, C++ flags) and cuda.cuda.o (the CUDA sources, nvcc flags)
    share the extension name (-DTORCH_EXTENSION_NAME), the include paths and the CUDA switch; so editing
    only a kernel's CUDA source reuses the binding file's object, and the reverse."""
    with_cuda = req.with_cuda if req.with_cuda is not None else bool(req.cuda_sources)
    common = {"name": req.name, "extra_include_paths": req.extra_include_paths, "with_cuda": with_cuda,
              "no_implicit_headers": req.no_implicit_headers}
    keys = {"main.o": _digest({"object": "main.o", **common, "cpp_sources": req.cpp_sources,
                               "functions": req.functions, "extra_cflags": req.extra_cflags,
                               "with_pytorch_error_handling": req.with_pytorch_error_handling}, tools)}
    if with_cuda and req.cuda_sources:
        keys["cuda.cuda.o"] = _digest({"object": "cuda.cuda.o", **common, "cuda_sources": req.cuda_sources,
                                       "extra_cuda_cflags": req.extra_cuda_cflags}, tools)
    return keys


def pch_key(req: BuildRequest, tools: dict[str, str]) -> str | None:
    """The key of torch/extension.h precompiled for this request's main.cpp: the toolchain and every input of
    main.cpp's compile line but the sources and the name. None where the request may not share one: its
    main.cpp does not start with the header, or its flags or include paths could name files."""
    if req.no_implicit_headers or req.extra_include_paths or not all(PCH_FLAG.match(f) for f in req.extra_cflags):
        return None
    with_cuda = req.with_cuda if req.with_cuda is not None else bool(req.cuda_sources)
    return _digest({"pch": "torch/extension.h", "extra_cflags": req.extra_cflags, "with_cuda": with_cuda}, tools)


def device_arch() -> str:
    """TORCH_CUDA_ARCH_LIST for builds: the operator's setting, else the visible GPU's own arch, else ''."""
    if os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return os.environ["TORCH_CUDA_ARCH_LIST"]
    from sandbox import gpu_memory

    nvml = gpu_memory.nvml()
    if nvml is not None:
        try:
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(nvml.nvmlDeviceGetHandleByIndex(0))
            return f"{major}.{minor}"
        except Exception:
            pass
    out = _version_of(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader", "-i", "0"])
    if re.fullmatch(r"\d+\.\d+", out):
        return out
    import torch

    if torch.cuda.is_available():  # the builder has no GPU: without this, torch would build for every arch
        major, minor = torch.cuda.get_device_capability(0)
        return f"{major}.{minor}"
    return ""


# -- the cache folder -----------------------------------------------------------------------------------

def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kernel-grader" / "compile"


class CompileCache:
    """The cache folder: entries/KEY/{blob, meta.json}, LRU by meta.json's mtime, bounded in bytes."""

    def __init__(self, path: str | Path | None = None, max_bytes: int | None = None):
        chosen = path if path is not None else os.environ.get(ENV_DIR)
        self.enabled = chosen != "off"
        self.root = Path(chosen if chosen and chosen != "off" else default_dir())
        mb = os.environ.get(ENV_MAX_MB)
        self.max_bytes = max_bytes if max_bytes is not None else (int(mb) << 20 if mb else DEFAULT_MAX_MB << 20)

    @property
    def entries(self) -> Path:
        return self.root / LAYOUT / "entries"

    def _ready(self) -> bool:
        """Create the folder (0700) and refuse one that others could write: they could plant entries."""
        if not self.enabled:
            return False
        try:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            for p in (self.root, self.root / LAYOUT, self.entries):
                p.mkdir(exist_ok=True, mode=0o700)
                st = os.stat(p, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
                    return False
        except OSError:
            return False
        return True

    def _lock(self):
        fd = os.open(self.root / LAYOUT / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @contextmanager
    def making(self, key: str) -> Iterator[None]:
        """Held while `grader cache warm` makes entry KEY, so that builds wanting it wait (`wait_made`) instead
        of each parsing torch/extension.h for themselves."""
        if not self._ready():
            yield
            return
        fd = os.open(self.root / LAYOUT / f"making-{key}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def wait_made(self, key: str, timeout: float) -> Path | None:
        """Entry KEY, once a warm that is making it is done (at most `timeout` s); None at once where none is."""
        try:
            fd = os.open(self.root / LAYOUT / f"making-{key}", os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # never made here
            return None
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return None
                    time.sleep(0.2)
        finally:
            os.close(fd)
        return self.get(key)

    def get(self, key: str) -> Path | None:
        """The entry's .so after checking it still hashes to what was recorded; None on a miss."""
        if not self._ready():
            return None
        entry = self.entries / key
        try:
            meta = CacheEntry.model_validate_json((entry / "meta.json").read_text())
            so = entry / BLOB
            if meta.key != key or _sha256(so) != meta.sha256:
                raise ValueError("entry does not match its record")
            os.utime(entry / "meta.json")  # most recently used
            return so
        except FileNotFoundError:
            return None
        except (OSError, ValueError, ValidationError):
            shutil.rmtree(entry, ignore_errors=True)
            return None

    def put(self, key: str, name: str, so_fd: int, build_s: float) -> None:
        """Copy a freshly built .so (an open descriptor) in as KEY; an entry already there is kept."""
        if not self._ready():
            return
        tmp = self.root / LAYOUT / f"tmp-{secrets.token_hex(8)}"
        tmp.mkdir(mode=0o700)
        try:
            digest, size = _copy_fd(so_fd, tmp / BLOB)
            meta = CacheEntry(key=key, name=name, sha256=digest, size=size, created=time.time(), build_s=build_s)
            (tmp / "meta.json").write_text(meta.model_dump_json())
            fd = self._lock()
            try:
                try:
                    os.rename(tmp, self.entries / key)
                except OSError:  # another grading put the same key first
                    pass
                self._evict()
            finally:
                os.close(fd)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def mark(self, key: str, name: str) -> None:
        """An empty entry: a note that something was asked for, which `get` then finds."""
        fd = os.open(os.devnull, os.O_RDONLY)
        try:
            self.put(key, name, fd, 0.0)
        finally:
            os.close(fd)

    def _listing(self) -> list[tuple[float, int, Path]]:
        out = []
        for entry in self.entries.iterdir() if self.entries.is_dir() else []:
            try:
                mtime = (entry / "meta.json").stat().st_mtime
                size = sum(f.stat().st_size for f in entry.iterdir())
            except OSError:
                mtime, size = 0.0, 0
            out.append((mtime, size, entry))
        return sorted(out)

    def _evict(self) -> None:
        listing = self._listing()
        total = sum(s for _, s, _ in listing)
        for _, size, entry in listing:
            if total <= self.max_bytes:
                break
            shutil.rmtree(entry, ignore_errors=True)
            total -= size

    def info(self) -> CacheInfo:
        listing = self._listing() if self.enabled else []
        return CacheInfo(path=str(self.root), enabled=self.enabled, entries=len(listing),
                         bytes=sum(s for _, s, _ in listing), max_bytes=self.max_bytes)

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        if not self.enabled or not (self.root / LAYOUT).is_dir():
            return 0
        fd = self._lock()
        try:
            listing = self._listing()
            for _, _, entry in listing:
                shutil.rmtree(entry, ignore_errors=True)
            return len(listing)
        finally:
            os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_fd(src_fd: int, dst: Path | tuple[int, str]) -> tuple[str, int]:
    """Copy from an open descriptor into a new file (never an existing one, never through a link)."""
    os.lseek(src_fd, 0, os.SEEK_SET)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    out = os.open(dst[1], flags, 0o755, dir_fd=dst[0]) if isinstance(dst, tuple) else os.open(dst, flags, 0o755)
    h, size = hashlib.sha256(), 0
    try:
        while chunk := os.read(src_fd, 1 << 20):
            size += len(chunk)
            if size > MAX_SO_BYTES:
                raise OSError("extension is over the size limit")
            h.update(chunk)
            os.write(out, chunk)
    finally:
        os.close(out)
    return h.hexdigest(), size


def open_regular(folder: Path, name: str) -> int:
    """A descriptor of folder/name, refusing links anywhere in the last two steps and anything but a file."""
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
    finally:
        os.close(dfd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{name} is not a regular file")
    return fd


def hand_over(so_fd: int, exchange: Path, name: str) -> str:
    """Copy the .so into a new folder of a worker's exchange folder; returns that folder's name.

    The worker owns its exchange folder and may have planted links in it: the folder is opened without
    following links, and the new folder and file are created, never reused."""
    folder = f"kgext-{secrets.token_hex(8)}"
    dfd = os.open(exchange, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.mkdir(folder, 0o755, dir_fd=dfd)
        sub = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
        try:
            _copy_fd(so_fd, (sub, f"{name}.so"))
        finally:
            os.close(sub)
    finally:
        os.close(dfd)
    return folder


# -- the grader's side of a build request ------------------------------------------------------------------

class CompileService:
    """Answers a candidate's build frames during its compile phase: from the cache, or a jailed builder."""

    def __init__(self, box, start_builder: Callable[[dict[str, str], dict[str, str]], object],
                 cache: CompileCache | None = None):
        self.box = box
        self.start_builder = start_builder   # (env, files) -> a Party running grader.jail.builder
        self.cache = cache or CompileCache()
        self.arch = device_arch()
        self.hits = 0
        self.builds = 0
        self.reused_objects = 0
        self.pch_made = False   # one precompiled header per grading: each is ~0.8 GB of the cache
        self.pch: Literal["made", "given"] | None = None  # the last build's precompiled header: made, or cached

    @property
    def cached(self) -> bool | None:
        """True when every extension came from the cache, False when one was built, None when none was asked."""
        if not self.hits and not self.builds:
            return None
        return self.builds == 0

    def answer(self, frame: dict, exchange: Path, time_left: Callable[[], float]) -> dict:
        try:
            req = BuildRequest.model_validate(frame.get("build"))
        except ValidationError as e:
            first = e.errors()[0]
            return BuildOutcome(ok=False, log=f"load_inline: bad argument {'.'.join(map(str, first['loc']))}: "
                                              f"{first['msg']}").model_dump()
        size = sum(len(s) for s in req.cpp_sources + req.cuda_sources)
        why = refused_flag(req) or (f"sources of {size} bytes are over the {MAX_SOURCE_BYTES} limit"
                                    if size > MAX_SOURCE_BYTES else None) \
            or (f"more than {MAX_BUILDS} extensions" if self.hits + self.builds >= MAX_BUILDS else None)
        if why:
            return BuildOutcome(ok=False, log=f"Error building extension '{req.name}': error: refused: {why}"
                                ).model_dump()
        key = cache_key(req, toolchain(self.box, self.arch))
        so = self.cache.get(key)
        if so is not None:
            self.hits += 1
            try:
                fd = os.open(so, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    return BuildOutcome(ok=True, folder=hand_over(fd, exchange, req.name), cached=True).model_dump()
                finally:
                    os.close(fd)
            except OSError as e:
                return _unusable(req, e)
        self.builds += 1
        return self._build(req, key, exchange, time_left)

    def _env(self) -> dict[str, str]:
        env = {"MAX_JOBS": os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)}
        if self.arch:
            env["TORCH_CUDA_ARCH_LIST"] = self.arch
        return env

    def warm(self, req: BuildRequest, timeout: float) -> tuple[bool, str]:
        """Precompile torch/extension.h for `req`'s flags into the cache now (grader cache warm), so that even the
        first builds with those flags start from it. Whether the cache holds it now, and what came of it."""
        pkey = pch_key(req, toolchain(self.box, self.arch))
        if pkey is None:
            return False, "not made: these flags could name files, so builds with them never share a precompiled header"
        if not self.cache.enabled:
            return False, f"not made: the compile cache is off ({ENV_DIR}=off)"
        with self.cache.making(pkey):
            if self.cache.get(pkey) is not None:
                return True, "already in the compile cache"
            return self._make_pch(req, pkey, timeout)

    def _make_pch(self, req: BuildRequest, pkey: str, timeout: float) -> tuple[bool, str]:
        builder = self.start_builder(self._env(), {})
        try:
            t0 = time.monotonic()
            try:
                reply = BuildReply.model_validate(builder.call(BuildOrder(request=req, make_pch=True, pch_only=True),
                                                               timeout, "the header's precompile"))
            except ValidationError:
                reply = BuildReply(ok=False, log="the builder answered out of protocol")
            if not reply.ok or reply.pch != "made":
                return False, f"not made: {reply.log.strip()[-2000:] or 'the compiler is not g++, or it failed'}"
            try:
                self._keep(builder.worker.exchange, PCH_OUT, pkey, req.name, time.monotonic() - t0)
            except OSError as e:
                return False, f"not made: the compile cache did not take it ({e})"
            if not (self.cache.entries / pkey).is_dir():
                return False, f"not made: the compile cache let it go at once ({ENV_MAX_MB} is below its size)"
            return True, f"made in {time.monotonic() - t0:.0f} s"
        finally:
            builder.close()

    def _build(self, req: BuildRequest, key: str, exchange: Path, time_left: Callable[[], float]) -> dict:
        env = self._env()
        tools = toolchain(self.box, self.arch)
        objects = object_keys(req, tools)
        if len(objects) < 2:  # one object is the whole library: the library's own entry already covers it
            objects = {}
        # Objects built before for the same inputs, and the precompiled header, go in read-only (the builder
        # never sees the cache); the objects as copies, the ~0.8 GB header as the entry itself.
        staged = Path(tempfile.mkdtemp(prefix="kg-objects-"))
        reused: dict[str, str] = {}
        try:
            for obj, okey in objects.items():
                found = self.cache.get(okey)
                if found is not None:
                    shutil.copyfile(found, staged / obj)
                    reused[obj] = str(staged / obj)
            pkey = pch_key(req, tools) if "main.o" not in reused else None
            pch = self.cache.get(pkey) if pkey else None
            if pkey and pch is None:  # being made by `grader cache warm`: waiting costs less than parsing it here
                pch = self.cache.wait_made(pkey, min(PCH_WAIT_S, time_left() / 2))
            make_pch = False
            if pkey and pch is None and not self.pch_made:
                # Made at the second build with these flags, beside it: a cache that sees one build (a one-off
                # grading, a test's own folder) never pays its ~30 s of a core and ~0.8 GB.
                seen = _digest({"pch_wanted": pkey}, {})
                make_pch = self.cache.get(seen) is not None
                if not make_pch:
                    self.cache.mark(seen, req.name)
            builder = self.start_builder(env, {**reused, **({"pch": str(pch)} if pch else {})})
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        try:
            t0 = time.monotonic()
            order = BuildOrder(request=req, objects={obj: builder.worker.paths[obj] for obj in reused},
                               pch=builder.worker.paths["pch"] if pch else None, make_pch=make_pch)
            try:
                reply = BuildReply.model_validate(builder.call(order, time_left(), "compile"))
            except ValidationError:
                reply = BuildReply(ok=False, log="the builder answered out of protocol")
            build_s = time.monotonic() - t0
            self.pch = None if reply.pch == "none" else reply.pch
            if not reply.ok:
                return BuildOutcome(ok=False, log=reply.log[-20000:] or "the builder failed without a log"
                                    ).model_dump()
            for obj, okey in objects.items():
                if obj not in reused:
                    self._keep(builder.worker.exchange, obj, okey, req.name, build_s)
            if reply.pch == "made" and pkey:
                self.pch_made = True
                try:
                    self._keep(builder.worker.exchange, PCH_OUT, pkey, req.name, build_s)
                except OSError:  # over the size limit, a full disk: later builds go without it
                    pass
            fd = open_regular(builder.worker.exchange, SO_NAME)
            try:
                self.cache.put(key, req.name, fd, build_s)
                folder = hand_over(fd, exchange, req.name)
            finally:
                os.close(fd)
            self.reused_objects += len(reused)
            return BuildOutcome(ok=True, folder=folder, log=reply.log[-20000:]).model_dump()
        except OSError as e:
            return _unusable(req, e)
        finally:
            builder.close()
            shutil.rmtree(staged, ignore_errors=True)

    def _keep(self, folder: Path, obj: str, key: str, name: str, build_s: float) -> None:
        try:
            fd = open_regular(folder, obj)
        except OSError:  # not built (a C++-only extension has no CUDA object)
            return
        try:
            self.cache.put(key, name, fd, build_s)
        finally:
            os.close(fd)


def _unusable(req: BuildRequest, e: OSError) -> dict:
    return BuildOutcome(ok=False, log=f"Error building extension '{req.name}': error: the library cannot be "
                                      f"handed over: {e}").model_dump()


def describe(info: CacheInfo) -> str:
    if not info.enabled:
        return f"compile cache: off ({ENV_DIR}=off)"
    return (f"compile cache: {info.path}\n  entries: {info.entries}\n  size: {info.bytes / 2**20:.1f} MiB of "
            f"{info.max_bytes / 2**20:.0f} MiB (least recently used entries go first)")



def for_sandbox(box) -> CompileCache:
    """The cache, where the sandbox hides it from workers; off where they could write it (weak isolation)."""
    if box.name == "local":
        from sandbox.local import isolation

        if isolation() != "bwrap":
            return CompileCache("off")
    return CompileCache()
