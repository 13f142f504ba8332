"""The compilers and CUDA toolkit a worker's `load_inline` will run, found the way torch finds them.

A jail shows the worker only the operating system's folders; a compiler installed elsewhere (/opt/gcc,
a conda environment, a cluster's environment module) is invisible there, and every grading ends in
`compile_error` "g++: not found". This module asks the host which compilers torch and nvcc would run and
where each takes its parts from, so that a backend can show exactly those folders read-only and hand the
operator's choice of compiler to the worker:

- the C++ compiler torch runs (`CXX`, else `c++` on PATH), `CC` (torch gives it to nvcc as `-ccbin`),
  nvcc's host compiler (`NVCC_CCBIN`, `CUDAHOSTCXX`, `-ccbin`/`--compiler-bindir` in
  `NVCC_PREPEND_FLAGS`/`NVCC_APPEND_FLAGS`, else `gcc` and `g++` on PATH) and nvcc itself;
- for each: where PATH finds it, its real file, and what the compiler itself reports: its program
  folders (cc1plus, collect2), `as` and `ld`, its library and header search folders, and the folders of
  the shared libraries the binaries load (ldd);
- CUDA_HOME as torch.utils.cpp_extension computes it, and the folder nvcc really runs from.

Nothing here runs untrusted code: it runs the host's own compilers with `-print-*` and `-v` flags.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess

from pydantic import BaseModel, Field

# The operator's choice of compiler: passed to the worker as set on the host.
TOOLCHAIN_ENV = ("CC", "CXX", "NVCC_CCBIN", "CUDAHOSTCXX", "NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS")
# What else decides which files a compile runs.
LOCATING_ENV = ("PATH", "CUDA_HOME", "CUDA_PATH", "LD_LIBRARY_PATH")
# Folders every backend's worker PATH has anyway; a compiler found there needs no extra PATH entry.
SYSTEM_PATH = ("/usr/local/cuda/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# The operating system: shown to every jailed worker already.
SYSTEM_TOPS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
HELPERS = ("as", "ld", "cc1plus")  # cc1, collect2 and lto-wrapper sit beside cc1plus
PROBE_TIMEOUT_S = 20


class Tool(BaseModel):
    """One command the worker's compile may run."""
    role: str = Field(description="what runs it: 'CXX', 'c++ on PATH', 'nvcc host compiler', 'nvcc', ...")
    command: str = Field(description="as the environment names it")
    path: str | None = Field(None, description="where the host's PATH finds it; None when it is not found")
    real: str | None = Field(None, description="the file it resolves to through symbolic links")
    version: str | None = Field(None, description="first line of its --version")


class Toolchain(BaseModel):
    tools: list[Tool] = Field(default_factory=list)
    cuda_home: str | None = Field(None, description="CUDA_HOME as torch.utils.cpp_extension finds it")
    nvcc_root: str | None = Field(None, description="the folder nvcc really runs from (its TOP)")
    env: dict[str, str] = Field(default_factory=dict, description="the operator's compiler variables, for the worker")
    path: list[str] = Field(default_factory=list, description="folders the worker's PATH needs before the system's")
    dirs: list[str] = Field(default_factory=list, description="real folders outside the OS the compiles read")
    links: dict[str, str] = Field(default_factory=dict, description="symbolic links outside the OS on the way to "
                                                                    "the tools as named: link -> its target")


def _run(argv: list[str], env: dict[str, str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return p.stdout + p.stderr


def _ccbin_flags(flags: str) -> list[str]:
    try:
        words = shlex.split(flags)
    except ValueError:
        return []
    found = []
    for i, w in enumerate(words):
        for opt in ("-ccbin", "--compiler-bindir"):
            if w == opt and i + 1 < len(words):
                found.append(words[i + 1])
            elif w.startswith(opt + "="):
                found.append(w.split("=", 1)[1])
    return found


def _commands(value: str) -> list[str]:
    """The programs a compiler variable names: 'ccache g++ -m64' runs ccache and g++."""
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    return [w for w in words if not w.startswith("-") and "=" not in w]


def _wanted(env: dict[str, str]) -> list[tuple[str, str]]:
    """(role, command) for every compiler a load_inline may run under this environment."""
    wanted: list[tuple[str, str]] = []
    for var in ("CXX", "CC", "NVCC_CCBIN", "CUDAHOSTCXX"):
        for cmd in _commands(env.get(var, "")):
            wanted.append((var, cmd))
    for var in ("NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS"):
        for cmd in _ccbin_flags(env.get(var, "")):
            wanted.append((f"-ccbin in {var}", cmd))
    if not env.get("CXX"):
        wanted.append(("c++ on PATH (torch's default)", "c++"))
    wanted += [("gcc on PATH (nvcc's default host compiler)", "gcc"), ("g++ on PATH", "g++")]
    return wanted


def _which(cmd: str, env: dict[str, str]) -> str | None:
    if os.path.isdir(cmd):  # --compiler-bindir names a folder
        return os.path.abspath(cmd)
    found = shutil.which(cmd, path=env.get("PATH", os.defpath))
    return os.path.abspath(found) if found else None


def cuda_home(env: dict[str, str]) -> str | None:
    """torch.utils.cpp_extension._find_cuda_home, on this environment (without importing torch)."""
    home = env.get("CUDA_HOME") or env.get("CUDA_PATH")
    if home is None:
        nvcc = shutil.which("nvcc", path=env.get("PATH", os.defpath))
        if nvcc is not None:
            home = os.path.dirname(os.path.dirname(nvcc))
        elif os.path.exists("/usr/local/cuda"):
            home = "/usr/local/cuda"
    return home


def _version(path: str, env: dict[str, str]) -> str | None:
    out = _run([path, "--version"], env).strip().splitlines()
    releases = [line for line in out if "release" in line]  # nvcc's first line names only the driver
    return (releases or out or [None])[0]  # type: ignore[list-item]


def _compiler_dirs(path: str, env: dict[str, str]) -> set[str]:
    """Folders a gcc- or clang-style driver takes its programs, libraries and headers from."""
    found: set[str] = set()
    search = _run([path, "-print-search-dirs"], env)
    for line in search.splitlines():
        key, _, value = line.partition(": ")
        if key in ("install", "programs", "libraries"):
            found.update(value.lstrip("=").split(os.pathsep))
    verbose = _run([path, "-v", "-E", "-x", "c++", "-o", os.devnull, "-"], env)
    inside = False
    for line in verbose.splitlines():
        if line.startswith("#include <...> search starts here"):
            inside = True
        elif line.startswith("End of search list"):
            inside = False
        elif inside:
            found.add(line.strip().split(" (framework")[0])
        elif line.startswith(("COMPILER_PATH=", "LIBRARY_PATH=")):
            found.update(line.split("=", 1)[1].split(os.pathsep))
    binaries = [path]
    for helper in HELPERS:
        prog = _run([path, f"-print-prog-name={helper}"], env).strip()
        prog = prog if os.path.isabs(prog) else (shutil.which(prog, path=env.get("PATH", os.defpath)) or "")
        if prog and os.path.isfile(prog):
            binaries.append(prog)
            found.add(os.path.dirname(prog))
    for b in binaries:
        found.update(_library_dirs(b, env))
    return found


def _library_dirs(binary: str, env: dict[str, str]) -> set[str]:
    """Folders of the shared libraries a binary loads (ldd; nothing for scripts and static binaries)."""
    found = set()
    for m in re.finditer(r"=> (/\S+) \(", _run(["ldd", os.path.realpath(binary)], env)):
        found.add(os.path.dirname(m.group(1)))
    return found


def _nvcc_root(nvcc: str, env: dict[str, str]) -> str | None:
    """The folder nvcc runs from, as it says itself (a wrapper script may live elsewhere)."""
    m = re.search(r"^#\$ TOP=(.+)$", _run([nvcc, "--dryrun", "-x", "cu", "-E", os.devnull], env), re.M)
    return os.path.realpath(m.group(1).strip()) if m else None


def _links(paths: list[str], shown: list[str]) -> dict[str, str]:
    """The first symbolic link on the way to each path as named (/opt/gcc -> gcc-13), outside the OS and
    the shown folders (which hold their own links): the jail shows real folders, and the names must lead
    there too. Past that link a name resolves into real folders, which are shown."""
    links: dict[str, str] = {}
    for path in paths:
        parts = path.split("/") if os.path.isabs(path) else []
        for i in range(2, len(parts) + 1):
            step = "/".join(parts[:i])
            if any(step.startswith(d + "/") for d in shown) or _system(step):
                break
            if os.path.islink(step):
                links[step] = os.readlink(step)
                break
    return links


def _system(path: str) -> bool:
    return any(path == top or path.startswith(top + "/") for top in SYSTEM_TOPS)


def _shown(dirs: set[str]) -> list[str]:
    """Real, existing folders outside the OS, outermost only; top-level folders (/opt, /home) never whole."""
    real = sorted({os.path.realpath(d) for d in dirs if d and os.path.isabs(d) and os.path.isdir(d)})
    kept: list[str] = []
    for d in real:
        if _system(d) or d.count("/") < 2 or any(d.startswith(k + "/") for k in kept):
            continue
        kept.append(d)
    return kept


def discover(env: dict[str, str] | None = None) -> Toolchain:
    """The toolchain under `env` (default: this process's environment); cached per relevant variables."""
    seen = os.environ if env is None else env
    relevant = tuple((k, seen[k]) for k in (*TOOLCHAIN_ENV, *LOCATING_ENV) if k in seen)
    return _discover(relevant)


@functools.lru_cache(maxsize=8)
def _discover(relevant: tuple) -> Toolchain:
    # The rest of this environment as it is (a module system's wrapper may need it); the C locale: gcc
    # translates the lines of its -v output that say where the header list begins.
    others = {k: v for k, v in os.environ.items() if k not in TOOLCHAIN_ENV + LOCATING_ENV}
    env = {**others, **dict(relevant), "LC_ALL": "C"}
    tools: list[Tool] = []
    dirs: set[str] = set()
    path: list[str] = []
    probed: set[str] = set()

    def add(role: str, command: str, compiler: bool) -> str | None:
        where = _which(command, env)
        tool = Tool(role=role, command=command, path=where)
        if where and os.path.isfile(where):
            tool.real = os.path.realpath(where)
            tool.version = _version(where, env)
        tools.append(tool)
        if where is None:
            return None
        folder = where if os.path.isdir(where) else os.path.dirname(where)
        if os.sep not in command and folder not in path and folder not in SYSTEM_PATH:
            path.append(folder)  # a bare name: the worker must find the same file the host does
        dirs.add(folder)
        if tool.real:
            dirs.add(os.path.dirname(tool.real))
        if compiler and tool.real and tool.real not in probed:
            probed.add(tool.real)
            dirs.update(_compiler_dirs(where, env))
        return where

    for role, command in _wanted(env):
        add(role, command, compiler=True)
    home = cuda_home(env)
    nvcc = None
    if home and os.path.isfile(os.path.join(home, "include", "cuda.h")):  # not a wrapper's folder (~/bin/..)
        dirs.add(home)
    if home:
        candidate = os.path.join(home, "bin", "nvcc")
        nvcc = add("nvcc (CUDA_HOME/bin)", candidate, compiler=False) if os.path.exists(candidate) else None
    if nvcc is None and shutil.which("nvcc", path=env.get("PATH", os.defpath)):
        nvcc = add("nvcc on PATH", "nvcc", compiler=False)
    root = _nvcc_root(nvcc, env) if nvcc else None
    if root:
        dirs.add(root)
    home_bin = os.path.join(home, "bin") if home else ""
    if os.path.isdir(home_bin) and home_bin not in SYSTEM_PATH and home_bin not in path:
        path.append(home_bin)
    chosen = {k: env[k] for k in TOOLCHAIN_ENV if env.get(k)}
    named = [t.path for t in tools if t.path] + path + [home or ""]
    shown = _shown(dirs)
    return Toolchain(tools=tools, cuda_home=home, nvcc_root=root, env=chosen, path=path, dirs=shown,
                     links=_links(named, shown))
