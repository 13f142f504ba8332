"""GPU memory per process through NVML, read from outside the worker so it cannot lie about it."""

from __future__ import annotations

import functools


@functools.cache
def nvml():
    try:
        import pynvml
        pynvml.nvmlInit()
        return pynvml
    except Exception:  # no driver, no library: nothing to measure
        return None


def used_by(pids: set[int]) -> int:
    """Bytes of GPU memory held by `pids` on every GPU; 0 where NVML is not available."""
    lib = nvml()
    if lib is None:
        return 0
    total = 0
    for i in range(lib.nvmlDeviceGetCount()):
        handle = lib.nvmlDeviceGetHandleByIndex(i)
        for getter in (lib.nvmlDeviceGetComputeRunningProcesses, lib.nvmlDeviceGetGraphicsRunningProcesses):
            try:
                procs = getter(handle)
            except lib.NVMLError:
                continue
            total += sum(p.usedGpuMemory or 0 for p in procs if p.pid in pids)
    return total


def available() -> bool:
    """Whether per-process GPU memory can be read here (NVML and a driver)."""
    return nvml() is not None


def total_bytes() -> int | None:
    """Memory of the smallest GPU on this machine; None where NVML is not available."""
    lib = nvml()
    if lib is None:
        return None
    try:
        sizes = [lib.nvmlDeviceGetMemoryInfo(lib.nvmlDeviceGetHandleByIndex(i)).total
                 for i in range(lib.nvmlDeviceGetCount())]
    except lib.NVMLError:
        return None
    return min(sizes) if sizes else None
