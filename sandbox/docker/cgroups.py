"""A container's processes and cgroup as this host sees them (when the engine runs here), and the limit
checks the shared watch loop (sandbox/watchdog.py) runs on them: what the cgroups only refuse, the
provider reports as a breach."""

from __future__ import annotations

from pathlib import Path

import psutil

from ..base import Limits
from ..watchdog import Check, disk_check, gpu_breach, stat_fields

PF_EXITING = 0x4  # set by the kernel when a process starts to exit, before it closes its files


def exiting(proc: psutil.Process) -> bool:
    """True once the process has begun to exit (or is gone); a dead worker's socket closes after this."""
    try:
        fields = stat_fields(proc.pid)
        if not proc.is_running():  # the pid now belongs to another process
            return True
        return fields[0] in (b"Z", b"X", b"x") or bool(int(fields[6]) & PF_EXITING)
    except (OSError, IndexError, ValueError, psutil.Error):
        return True


class ContainerView:
    def __init__(self, api, container_id: str):
        self._api = api
        self.id = container_id
        self._cgroup: dict[str, Path | None] = {}
        self._pid: int | None = None

    def cgroup_value(self, controller: str, files: tuple[str, ...]) -> int | None:
        """Read the container's cgroup from this host when the engine runs here; None otherwise."""
        if controller not in self._cgroup:
            pid = self.state_pid()
            if pid is None:
                return None
            self._cgroup[controller] = self._find(pid, controller, files)
        path = self._cgroup[controller]
        if path is None:
            return None
        try:
            return int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _find(self, pid: int, controller: str, files: tuple[str, ...]) -> Path | None:
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _hid, ctrls, rel = line.split(":", 2)
            if self.id not in rel:
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

    def state_pid(self) -> int | None:
        if self._pid is None:
            try:
                self._pid = int(self._api.inspect_container(self.id)["State"].get("Pid") or 0) or None
            except Exception:
                return None
        return self._pid

    def stats_pids(self) -> int | None:
        try:
            stats = self._api.stats(self.id, stream=False, one_shot=True)
            return int(stats.get("pids_stats", {}).get("current") or 0) or None
        except Exception:
            return None

    def host_pids(self) -> set[int]:
        pid = self.state_pid()
        try:
            root = psutil.Process(pid)
            return {pid, *(p.pid for p in root.children(recursive=True))}
        except (psutil.Error, TypeError, ValueError):
            return set()

    def main_process(self) -> psutil.Process | None:
        """The worker's process as this host sees it, when the engine runs here (checked by its cgroup)."""
        pid = self.state_pid()
        try:
            if pid and self.id in Path(f"/proc/{pid}/cgroup").read_text():
                return psutil.Process(pid)
        except (OSError, psutil.Error):
            pass
        return None


def limit_checks(view: ContainerView, limits: Limits, exchange: Path) -> list[Check]:
    """pids at the cap (the cgroup's count; the engine's stats every 0.5 s where the cgroup is not visible),
    the exchange folder's size, GPU memory: the Docker worker's checks, every 0.1 s."""

    def cgroup_pids() -> int | None:
        return view.cgroup_value("pids", ("pids.current",))

    def pids() -> str | None:
        n = cgroup_pids()
        return "pids" if n is not None and n >= limits.pids else None

    def stats_pids() -> str | None:
        n = view.stats_pids() if cgroup_pids() is None else None
        return "pids" if n is not None and n >= limits.pids else None

    checks: list[Check] = [(1, pids), (5, stats_pids)]
    if limits.disk_bytes:
        checks.append((5, disk_check([exchange], limits.disk_bytes)))
    if limits.gpu_memory_bytes:
        gpu_limit = limits.gpu_memory_bytes
        checks.append((2, lambda: gpu_breach(view.host_pids(), gpu_limit)))
    return checks
