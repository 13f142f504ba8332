"""GPUs for a container: the NVIDIA toolkit's device request, or, where the engine has no toolkit, the
/dev/nvidia* nodes and the host's driver libraries mounted read-only."""

from __future__ import annotations

import glob
import os
import subprocess

from ..base import SandboxError
from .config import IN_NVIDIA


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


def toolkit_config(config: dict) -> dict:
    """The GPUs through the NVIDIA container toolkit (a device request)."""
    from docker.types import DeviceRequest

    visible = os.environ.get("CUDA_VISIBLE_DEVICES") or os.environ.get("NVIDIA_VISIBLE_DEVICES")
    ids = [d for d in (visible or "").split(",") if d and visible != "all"]
    request = (DeviceRequest(device_ids=ids, capabilities=[["gpu"]]) if ids
               else DeviceRequest(count=-1, capabilities=[["gpu"]]))
    config = dict(config, device_requests=[request])
    config["environment"] = dict(config["environment"], NVIDIA_DRIVER_CAPABILITIES="compute,utility")
    return config


def device_config(config: dict, image_env: dict[str, str]) -> dict:
    """No toolkit in the engine: pass the device nodes and mount the host's driver libraries read-only."""
    from docker.types import Mount

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
    inherited = env.get("LD_LIBRARY_PATH") or image_env.get("LD_LIBRARY_PATH", "")
    env["LD_LIBRARY_PATH"] = ":".join(filter(None, [str(IN_NVIDIA / "lib"), inherited]))
    env["PATH"] = f"{env['PATH']}:{IN_NVIDIA / 'bin'}"
    # Device nodes keep their host owner and mode: join the groups that may open them.
    groups = sorted({os.stat(d.split(":")[0]).st_gid for d in devices
                     if not os.stat(d.split(":")[0]).st_mode & 0o006})
    return dict(config, devices=devices, mounts=mounts, environment=env,
                group_add=[str(g) for g in groups if g != 0] or None)
