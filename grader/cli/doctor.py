"""`grader doctor`'s findings: what this machine offers a grading, and the fix for each thing missing.

Every check looks at the real thing: the compilers are found as torch finds them and then run inside
the jail a worker gets; the Docker engine is asked; the cache folder is tried for writing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, Field

from sandbox import toolchain

PROGRAM = r"#include <vector>\nint main() { std::vector<int> v(3); return (int)v.size() - 3; }\n"


class Level(str, Enum):
    ok = "ok"
    warn = "warn"        # works, weaker or optional
    missing = "missing"  # a grading needs it and lacks it


class Check(BaseModel):
    name: str
    level: Level
    detail: str
    fix: str | None = Field(None, description="the command or setting that mends it; None when ok")


class DoctorReport(BaseModel):
    checks: list[Check]

    @property
    def healthy(self) -> bool:
        return all(c.level is not Level.missing for c in self.checks)




def _gib(n: int | None) -> str:
    return f"{n / 2**30:.1f} GiB" if n else "none"


def _torch_and_gpu() -> list[Check]:
    try:
        import torch
    except Exception as e:  # a broken install is reported, not raised
        return [Check(name="torch", level=Level.missing, detail=f"cannot import torch: {e}",
                      fix="install the torch build for this machine: `pip install torch` (a CUDA build on a GPU box)")]
    checks = [Check(name="torch", level=Level.ok,
                    detail=f"{torch.__version__} (CUDA {torch.version.cuda or 'none'}) at "
                           f"{Path(torch.__file__).parent}")]
    smi = shutil.which("nvidia-smi")
    driver = ""
    if smi:
        out = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
        driver = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    if torch.cuda.is_available():
        names = [f"{torch.cuda.get_device_name(i)} ({_gib(torch.cuda.get_device_properties(i).total_memory)})"
                 for i in range(torch.cuda.device_count())]
        checks.append(Check(name="GPU", level=Level.ok,
                            detail=f"{', '.join(names)}; driver {driver or 'unknown'}"))
    elif driver and not torch.version.cuda:
        checks.append(Check(name="GPU", level=Level.missing,
                            detail=f"driver {driver} is here, but torch is a CPU build",
                            fix="install a CUDA build of torch (https://pytorch.org/get-started/locally/)"))
    elif driver:
        checks.append(Check(name="GPU", level=Level.missing,
                            detail=f"driver {driver}, but torch sees no GPU (CUDA_VISIBLE_DEVICES="
                                   f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})",
                            fix="check `nvidia-smi` and CUDA_VISIBLE_DEVICES; torch's CUDA must not be newer "
                                "than the driver"))
    else:
        checks.append(Check(name="GPU", level=Level.warn, detail="none visible: only --device cpu gradings",
                            fix="on a GPU machine: install the NVIDIA driver (nvidia-smi must list the GPU)"))
    return checks


def _cuda(chain: toolchain.Toolchain, gpu: bool) -> Check:
    nvcc = next((t for t in chain.tools if t.role.startswith("nvcc")), None)
    if nvcc and nvcc.version:
        return Check(name="CUDA toolkit", level=Level.ok,
                     detail=f"{nvcc.version.strip()}; CUDA_HOME {chain.cuda_home}; nvcc runs from {chain.nvcc_root}")
    return Check(name="CUDA toolkit", level=Level.missing if gpu else Level.warn,
                 detail=f"no nvcc (CUDA_HOME {chain.cuda_home or 'not found'}): CUDA solutions cannot compile",
                 fix="install the CUDA toolkit matching torch.version.cuda and set CUDA_HOME (or put nvcc on PATH)")


def _compilers(chain: toolchain.Toolchain) -> list[Check]:
    checks = []
    for tool in chain.tools:
        if tool.role.startswith("nvcc"):
            continue
        name = f"compiler: {tool.role}"
        if tool.path is None:
            chosen = tool.role in toolchain.TOOLCHAIN_ENV or tool.role.startswith("-ccbin")
            checks.append(Check(name=name, level=Level.missing if chosen or "c++" in tool.role else Level.warn,
                                detail=f"{tool.command!r} not found on PATH",
                                fix="install g++ (`apt-get install g++`) or set CXX=/path/to/g++"))
            continue
        where = tool.path if tool.real == tool.path else f"{tool.path} -> {tool.real}"
        checks.append(Check(name=name, level=Level.ok, detail=f"{where}: {tool.version or '?'}"))
    if chain.dirs:
        links = "".join(f"; link {link} -> {target}" for link, target in chain.links.items())
        checks.append(Check(name="toolchain folders", level=Level.ok,
                            detail="shown read-only in the jail: " + ", ".join(chain.dirs) + links))
    return checks


def _jail(chain: toolchain.Toolchain) -> list[Check]:
    from sandbox import local

    how = local.isolation()
    fix_bwrap = "install bubblewrap (`apt-get install bubblewrap`, or unpack its .deb into a folder on PATH)"
    if how == "none":
        return [Check(name="jail", level=Level.missing, detail="no namespaces: workers run as plain processes",
                      fix=fix_bwrap + "; KG_LOCAL_ISOLATION must not be 'none'")]
    if how == "unshare":
        return [Check(name="jail", level=Level.warn,
                      detail="unshare: own network and PID namespaces, but the whole file system is visible",
                      fix=fix_bwrap)]
    checks = [Check(name="jail", level=Level.ok, detail=f"bubblewrap ({shutil.which('bwrap')}): "
                                                        "read-only view, own user/PID/network namespaces")]
    cxx = next((t for t in chain.tools if t.role in ("CXX", "c++ on PATH (torch's default)") and t.path), None)
    nvcc = next((t for t in chain.tools if t.role.startswith("nvcc") and t.path), None)
    for label, tool in (("C++ compiler", cxx), ("nvcc", nvcc)):
        if tool is None:
            continue
        command = (os.environ.get("CXX") or "c++") if tool is cxx else tool.path
        # The C++ compiler builds and runs a program using the standard library: its cc1plus, headers,
        # assembler, linker and libraries all have to be there, not only the driver.
        script = (f"printf '{PROGRAM}' | {command} -x c++ - -o /tmp/kg-doctor && /tmp/kg-doctor" if tool is cxx
                  else f"{command} --version")
        proc = local.run_jailed(["sh", "-c", script])
        if proc.returncode == 0:
            what = "builds and runs a program inside" if tool is cxx else "runs inside"
            checks.append(Check(name=f"{label} in the jail", level=Level.ok, detail=f"{command} {what}"))
        else:
            checks.append(Check(name=f"{label} in the jail", level=Level.missing,
                                detail=f"{command} fails inside: {(proc.stderr or proc.stdout).strip()[-200:]}",
                                fix="add the folders it needs with KG_SANDBOX_RO_PATHS=/dir1:/dir2, "
                                    "or KG_LOCAL_ISOLATION=unshare to run without the jail's file system view"))
    return checks


def _docker(gpu: bool) -> Check:
    from sandbox.docker import DockerSandbox
    from sandbox.docker.config import _client, _find_image

    ok, why = DockerSandbox.available()
    if not ok:
        return Check(name="Docker", level=Level.warn, detail=why.split(";")[0],
                     fix=why.split("; ", 1)[1] if "; " in why else why)
    client = _client(timeout=10)
    try:
        info = client.info()
        image = _find_image(client)
    finally:
        client.close()
    detail = f"engine {info.get('ServerVersion')}, image {image}"
    if gpu and "nvidia" not in (info.get("Runtimes") or {}):
        return Check(name="Docker", level=Level.warn, detail=detail + "; no NVIDIA container toolkit: GPUs go in as "
                     "device nodes with the host's driver libraries", fix="install the NVIDIA Container Toolkit and "
                     "run `nvidia-ctk runtime configure --runtime=docker` (see docs/docker.md)")
    return Check(name="Docker", level=Level.ok, detail=detail)


def _cache() -> Check:
    from grader.judge.compile_cache import ENV_DIR, CompileCache

    cache = CompileCache()
    if not cache.enabled:
        return Check(name="compile cache", level=Level.warn, detail=f"off ({ENV_DIR}=off): every grading compiles",
                     fix=f"unset {ENV_DIR}")
    folder = cache.root
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("/"))
    if probe.is_dir() and os.access(probe, os.W_OK | os.X_OK):
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0
        state = f"{size / 2**20:.0f} MiB" if folder.is_dir() else "not made yet"
        return Check(name="compile cache", level=Level.ok,
                     detail=f"{folder} ({state}; {_gib(shutil.disk_usage(probe).free)} free)")
    return Check(name="compile cache", level=Level.missing, detail=f"{folder} cannot be written",
                 fix=f"set {ENV_DIR} to a folder you can write")


def _limits() -> Check:
    from grader.judge.sizing import Machine
    from grader.models import Timeouts
    from sandbox import Limits
    from sandbox.common import scratch_root

    t, lim, scratch = Timeouts(), Limits(), scratch_root()
    here = Machine.here("cuda")
    return Check(name="limits", level=Level.ok, detail=(
        f"per worker: sized from each problem (grader/judge/sizing.py) within this machine's {_gib(here.host_bytes)} "
        f"of memory and {_gib(here.gpu_bytes)} of GPU memory, "
        f"{lim.pids} processes, disk {_gib(lim.disk_bytes)}; timeouts compile {t.compile:.0f} s, correctness "
        f"{t.correctness:.0f} s, timing {t.timing:.0f} s; worker folders in {scratch} "
        f"({_gib(shutil.disk_usage(scratch).free)} free)"))


def _nvml(gpu: bool) -> Check | None:
    from sandbox import gpu_memory

    if gpu_memory.available():
        return Check(name="NVML", level=Level.ok, detail="GPU memory of each worker is watched from outside")
    if gpu:
        return Check(name="NVML", level=Level.warn, detail="GPU memory is capped only inside the worker",
                     fix="pip install nvidia-ml-py")
    return None


def _kernel_tools(gpu: bool) -> list[Check]:
    """Optional: Triton (Triton solutions grade; on the CPU through its interpreter) and Nsight Compute
    (`grader check --profile`; reported only where there is a GPU to profile)."""
    from importlib import metadata

    from grader.judge import ncu

    try:
        version = metadata.version("triton")
        where = "" if gpu else " on the CPU, through its interpreter"
        checks = [Check(name="Triton", level=Level.ok, detail=f"{version}: Triton solutions grade{where}")]
    except metadata.PackageNotFoundError:
        checks = [Check(name="Triton", level=Level.warn, detail="not installed: Triton solutions cannot grade",
                        fix="pip install triton")]
    found = ncu.find(os.environ.get("KG_NCU"))
    if found:
        checks.append(Check(name="Nsight Compute", level=Level.ok, detail=f"{found}: grader check --profile"))
    elif gpu:
        checks.append(Check(name="Nsight Compute", level=Level.warn, detail="no ncu: grader check --profile "
                            "cannot run", fix="install Nsight Compute (CUDA toolkit), or set KG_NCU=/path/to/ncu"))
    return checks


def examine() -> DoctorReport:
    checks = [Check(name="python", level=Level.ok, detail=f"{sys.version.split()[0]} at {sys.executable}")]
    checks += _torch_and_gpu()
    gpu = any(c.name == "GPU" and c.level is Level.ok for c in checks)
    chain = toolchain.discover()
    checks.append(_cuda(chain, gpu))
    checks += _compilers(chain)
    checks += _jail(chain)
    checks.append(_docker(gpu))
    nvml = _nvml(gpu)
    if nvml:
        checks.append(nvml)
    checks += _kernel_tools(gpu)
    checks.append(_cache())
    checks.append(_limits())
    return DoctorReport(checks=checks)
