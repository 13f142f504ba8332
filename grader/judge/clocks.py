"""The GPU's clocks and throttle reasons, sampled through NVML from the trusted side while a worker times.

A figure measured while the SM clock sagged (power cap, heat) is not the kernel's speed: the report says
what the clocks did and flags `clock_throttled` when they moved."""

from __future__ import annotations

import os
import threading

from grader.models import ClockStats
from sandbox.gpu_memory import nvml

# nvmlClocksEventReason* bits: the ones that mean the clock was held down by the board, not chosen.
THROTTLE_REASONS = {0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x20: "sw_thermal", 0x40: "hw_thermal",
                    0x80: "hw_power_brake"}
GPU_IDLE = 0x1
MOVED = 0.05  # the SM clock moving by more than this share of its highest reading


class ClockWatch:
    """Samples every `period_s` between `start()` and `stop()`; `stats()` is None where NVML is not here."""

    def __init__(self, period_s: float = 0.02):
        self.period_s = period_s
        self._handle = None
        self._sm: list[int] = []
        self._mem: list[int] = []
        self._reasons = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ClockWatch:
        lib = nvml()
        if lib is None:
            return self
        # The worker's device 0 is the first visible one; a grader pinned to a GPU names it in the variable.
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
        try:
            self._handle = (lib.nvmlDeviceGetHandleByIndex(int(visible)) if visible.isdigit()
                            else lib.nvmlDeviceGetHandleByUUID(visible))
        except lib.NVMLError:
            return self
        self._thread = threading.Thread(target=self._run, args=(lib,), daemon=True, name="clock-watch")
        self._thread.start()
        return self

    def _sample(self, lib) -> None:
        try:
            reasons = lib.nvmlDeviceGetCurrentClocksThrottleReasons(self._handle)
            if reasons & GPU_IDLE:  # between calls, while inputs are made: an idle clock says nothing
                return
            self._sm.append(lib.nvmlDeviceGetClockInfo(self._handle, lib.NVML_CLOCK_SM))
            self._mem.append(lib.nvmlDeviceGetClockInfo(self._handle, lib.NVML_CLOCK_MEM))
            self._reasons |= reasons
        except lib.NVMLError:
            pass

    def _run(self, lib) -> None:
        self._sample(lib)
        while not self._stop.wait(self.period_s):
            self._sample(lib)

    def stop(self) -> ClockStats | None:
        if self._thread is None:
            return None
        self._stop.set()
        self._thread.join(timeout=2)
        if not self._sm:
            return None
        reasons = [name for bit, name in THROTTLE_REASONS.items() if self._reasons & bit]
        return ClockStats(sm_mhz_min=min(self._sm), sm_mhz_max=max(self._sm), mem_mhz_min=min(self._mem),
                          mem_mhz_max=max(self._mem), throttle_reasons=reasons, samples=len(self._sm))


def throttled(stats: ClockStats | None) -> bool:
    """The clocks moved while timing, or the board slowed the chip down for heat or power."""
    if stats is None:
        return False
    moved = stats.sm_mhz_max > 0 and (stats.sm_mhz_max - stats.sm_mhz_min) / stats.sm_mhz_max > MOVED
    return moved or bool(set(stats.throttle_reasons) - {"sw_power_cap"})
