"""The clusters `grader batch --executor dask --cluster SPEC` starts for itself (docs/scaling.md).

- `local:N`: a scheduler in this process and N worker processes on this machine, each under a nanny that
  restarts it if it dies. On a CUDA batch worker i owns the i-th visible GPU (CUDA_VISIBLE_DEVICES, resource
  `GPU=1`).
- `slurm:CONFIG.yaml`: dask-jobqueue's SLURMCluster, the scheduler in this process and one Slurm job per
  worker, each asking the site for one GPU; CONFIG.yaml (`SlurmConfig`) says where and how.

Every worker's environment keeps NVLink multicast off (`MULTICAST_OFF`). The scheduler reruns a grading whose
worker died up to `ALLOWED_FAILURES` times.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import yaml
from distributed import Nanny, Scheduler, SpecCluster
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import UsageError
from .executors import MULTICAST_OFF, ExecutorSettings

# A worker that dies takes its gradings with it; each is rerun on another worker. Two reruns cover a node
# lost to the site (preemption, a failed host) twice in a row; a grading that kills a third worker is
# the likely cause, and is stopped instead of taking down the pool (the row says so).
ALLOWED_FAILURES = 2


def local_cluster(n: int, settings: ExecutorSettings) -> SpecCluster:
    """N worker processes here, `jobs` threads each; on CUDA one visible GPU each."""
    env: list[dict[str, str]] = [{} for _ in range(n)]
    resources = None
    if settings.device == "cuda":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        gpus = [g.strip() for g in visible.split(",") if g.strip()] if visible else [str(i) for i in range(n)]
        if n > len(gpus):
            raise UsageError(f"--cluster local:{n}: one worker per GPU, and CUDA_VISIBLE_DEVICES={visible} "
                             f"shows {len(gpus)}")
        env = [{**MULTICAST_OFF, "CUDA_VISIBLE_DEVICES": gpu} for gpu in gpus[:n]]
        resources = {"GPU": 1}
    workers = {f"grader-{i}": {"cls": Nanny, "options": {
        "nthreads": settings.jobs, "memory_limit": 0, "env": env[i], "resources": resources, "host": "127.0.0.1",
        "silence_logs": logging.ERROR}} for i in range(n)}
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "port": 0, "dashboard": False,
                                               "allowed_failures": ALLOWED_FAILURES}}
    return SpecCluster(workers=workers, scheduler=scheduler, name="grader-batch", silence_logs=logging.ERROR)


class SlurmConfig(BaseModel):
    """CONFIG.yaml of `--cluster slurm:CONFIG.yaml`; the fields are dask-jobqueue's SLURMCluster options."""

    model_config = ConfigDict(extra="forbid")
    workers: int = Field(1, ge=1, description="Slurm jobs to start: one Dask worker, and one GPU, each")
    queue: str | None = Field(None, description="the partition (sbatch -p)")
    account: str | None = Field(None, description="the account to charge (sbatch -A)")
    walltime: str = Field("04:00:00", description="each job's time limit; a worker that reaches it is lost and "
                                                  "its gradings rerun on the others")
    cores: int = Field(8, ge=1, description="CPU cores per job: the compiles of the worker's gradings run on them")
    memory: str = Field("64GB", description="host memory per job")
    gpu_directive: str = Field("--gres=gpu:1", description="how this site asks for one GPU (e.g. --gpus=1)")
    job_extra_directives: list[str] = Field(default_factory=list, description="more #SBATCH lines, e.g. "
                                            "--constraint=h100 so that every worker has the same GPU model")
    job_script_prologue: list[str] = Field(default_factory=list, description="shell lines run before the "
                                           "worker: module load, activating the environment")
    python: str | None = Field(None, description="the workers' python (default: this one)")
    local_directory: str | None = Field(None, description="the worker's scratch folder on the node")
    interface: str | None = Field(None, description="network interface the scheduler and workers talk on")


def load_slurm_config(path: Path) -> SlurmConfig:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as e:
        raise UsageError(f"{path}: cannot read the Slurm cluster config ({e.strerror})")
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML: {' '.join(str(e).split())}")
    try:
        return SlurmConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise UsageError(f"{path}: {where}: {err['msg']} (see docs/scaling.md for the format)")


def slurm_cluster(config: SlurmConfig, settings: ExecutorSettings):
    """The SLURMCluster for a config, not yet scaled: `.job_script()` shows what each job runs."""
    from dask_jobqueue import SLURMCluster

    cuda = settings.device == "cuda"
    return SLURMCluster(
        queue=config.queue, account=config.account, walltime=config.walltime, cores=config.cores, processes=1,
        memory=config.memory, python=config.python or sys.executable, local_directory=config.local_directory,
        interface=config.interface, job_name="kgrader",
        job_extra_directives=([config.gpu_directive] if cuda else []) + config.job_extra_directives,
        # Slurm sets CUDA_VISIBLE_DEVICES to the job's GPU; the worker announces it as its one GPU.
        job_script_prologue=[f"export {k}={v}" for k, v in MULTICAST_OFF.items()] + config.job_script_prologue,
        worker_extra_args=["--resources", "GPU=1"] if cuda else [],
        scheduler_options={"dashboard_address": ":0", "allowed_failures": ALLOWED_FAILURES},
    )


def start_cluster(spec: str, settings: ExecutorSettings):
    kind, _, arg = spec.partition(":")
    if kind == "local" and arg.isdigit() and int(arg) >= 1:
        return local_cluster(int(arg), settings)
    if kind == "slurm" and arg:
        config = load_slurm_config(Path(arg))
        cluster = slurm_cluster(config, settings)
        cluster.scale(jobs=config.workers)
        return cluster
    raise UsageError(f"--cluster {spec}: give local:N (N worker processes on this machine) or slurm:CONFIG.yaml")
