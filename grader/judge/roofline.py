"""Roofline floors: the fastest a problem could possibly run on a given GPU.

A problem's metadata gives `flops` and `min_bytes` as Python expressions over the module's integer
constants ('2*M*N*K'). They are evaluated from the file's AST (`problems.module_constants` and
`problems.safe_eval`): the problem file is never executed here.

    floor_ms = max(flops / peak_compute(dtype), min_bytes / peak_bandwidth)
    roofline_fraction = floor_ms / runtime_ms      (1.0 = at the roof; higher is impossible unless
                                                    the kernel uses a faster unit than the dtype's peak,
                                                    e.g. TF32 tensor cores on a float32 problem)

Peak figures say where each number comes from: "measured" figures were taken on the H100 that grades
the library (bench runs), "datasheet" figures are NVIDIA's dense (no sparsity) numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.models import ProblemMeta

from .problems import load_meta, module_constants, safe_eval


@dataclass(frozen=True)
class Peaks:
    """Peak rates of one GPU. Bandwidth in GB/s (1e9 bytes/s, read + write counted), compute in TFLOP/s."""

    name: str
    hbm_gbps: float
    fp32_tflops: float            # CUDA cores, no tensor cores
    tf32_tflops: float            # tensor cores, dense
    bf16_tflops: float            # tensor cores, dense, fp32 accumulate
    fp16_tflops: float
    fp64_tflops: float
    source: dict[str, str] = field(default_factory=dict)

    def compute_tflops(self, dtype: str) -> float:
        d = dtype.removeprefix("torch.")
        if d in ("bfloat16", "bf16"):
            return self.bf16_tflops
        if d in ("float16", "half", "fp16"):
            return self.fp16_tflops
        if d in ("float64", "double"):
            return self.fp64_tflops
        if d == "tf32":
            return self.tf32_tflops
        return self.fp32_tflops


# H100 SXM5 80 GB (torch reports "NVIDIA H100 80GB HBM3").
H100_SXM = Peaks(
    name="H100 SXM 80GB",
    hbm_gbps=3000.0,       # measured: device-to-device copy, bytes read + written (datasheet 3350)
    fp32_tflops=67.0,      # datasheet (SXM); the PCIe card's 51 is below
    tf32_tflops=494.7,     # datasheet, dense
    bf16_tflops=798.0,     # measured: cuBLAS bf16 GEMM, large square sizes (datasheet 989.4 dense)
    fp16_tflops=798.0,     # assumed equal to the measured bf16 figure (datasheet 989.4 dense)
    fp64_tflops=33.5,      # datasheet, CUDA cores
    source={"hbm_gbps": "measured", "bf16_tflops": "measured", "fp16_tflops": "assumed = bf16 measured",
            "fp32_tflops": "datasheet", "tf32_tflops": "datasheet", "fp64_tflops": "datasheet"},
)

H100_PCIE = Peaks(
    name="H100 PCIe 80GB",
    hbm_gbps=2000.0, fp32_tflops=51.2, tf32_tflops=378.0, bf16_tflops=756.0, fp16_tflops=756.0,
    fp64_tflops=25.6,
    source={k: "datasheet" for k in ("hbm_gbps", "fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops",
                                     "fp64_tflops")},
)

H200 = Peaks(
    name="H200 141GB",
    hbm_gbps=4800.0, fp32_tflops=67.0, tf32_tflops=494.7, bf16_tflops=989.4, fp16_tflops=989.4,
    fp64_tflops=33.5,
    source={k: "datasheet" for k in ("hbm_gbps", "fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops",
                                     "fp64_tflops")},
)

# Matched in order against torch.cuda.get_device_name() (case-insensitive substrings).
KNOWN: list[tuple[tuple[str, ...], Peaks]] = [
    (("h200",), H200),
    (("h100 pcie",), H100_PCIE),
    (("h100",), H100_SXM),
]


def peaks_for(device_name: str | None) -> Peaks | None:
    """Peak figures for a device name as torch reports it; None for CPUs and unknown GPUs."""
    if not device_name:
        return None
    low = device_name.lower()
    if low.startswith("cpu"):
        return None
    for keys, peaks in KNOWN:
        if all(k in low for k in keys):
            return peaks
    return None


def work(meta: ProblemMeta | None, problem_path: str | Path,
         dims: dict[str, int] | None = None) -> tuple[float | None, float | None]:
    """(flops, min_bytes) of one forward call at the sizes `dims` sets, from the metadata's expressions;
    None where unknown."""
    if meta is None:
        return None, None
    consts = module_constants(Path(problem_path), dims)
    out: list[float | None] = []
    for expr in (meta.flops, meta.min_bytes):
        if not expr:
            out.append(None)
            continue
        try:
            v = float(safe_eval(expr, consts))
        except (ValueError, TypeError, OverflowError):
            v = None
        out.append(v if v is not None and v > 0 else None)
    return out[0], out[1]


TF32_RTOL = 5e-3


def compute_peak(meta: ProblemMeta, peaks: Peaks) -> float:
    """TFLOP/s of the fastest unit a passing kernel may use: a float32 problem whose tolerance admits
    TF32's 10-bit mantissa (rtol >= 5e-3, e.g. convolutions, whose cuDNN reference itself uses TF32)
    is bounded by the TF32 tensor-core peak, other float32 problems by the CUDA-core FP32 peak."""
    dtype = meta.dtype.removeprefix("torch.")
    if dtype == "float32" and meta.rtol is not None and meta.rtol >= TF32_RTOL:
        return peaks.tf32_tflops
    return peaks.compute_tflops(dtype)


def floor_ms(meta: ProblemMeta | None, problem_path: str | Path, peaks: Peaks | None,
             dims: dict[str, int] | None = None) -> float | None:
    """The roofline floor in milliseconds: max(flops / compute peak, min_bytes / bandwidth)."""
    if meta is None or peaks is None:
        return None
    flops, nbytes = work(meta, problem_path, dims)
    if flops is None and nbytes is None:
        return None
    t = 0.0
    if flops is not None:
        t = max(t, flops / (compute_peak(meta, peaks) * 1e12))
    if nbytes is not None:
        t = max(t, nbytes / (peaks.hbm_gbps * 1e9))
    return t * 1e3


def assess(meta: ProblemMeta | None, problem_path: str | Path, runtime_ms: float | None,
           device_name: str | None,
           dims: dict[str, int] | None = None) -> tuple[float | None, float | None, float | None]:
    """(achieved TFLOP/s, achieved GB/s, roofline fraction) of a measured runtime.

    Achieved rates need only the metadata; the fraction also needs known peaks (None on CPUs and unknown GPUs).
    `meta` may be None, in which case the metadata beside `problem_path` is read (and None without one).
    """
    if meta is None and problem_path:
        try:
            meta = load_meta(Path(problem_path))
        except Exception:  # noqa: BLE001 - broken metadata means "unknown", the engine reports it elsewhere
            meta = None
    if meta is None or not runtime_ms or runtime_ms <= 0:
        return None, None, None
    flops, nbytes = work(meta, problem_path, dims)
    secs = runtime_ms / 1e3
    tflops = flops / secs / 1e12 if flops is not None else None
    gbps = nbytes / secs / 1e9 if nbytes is not None else None
    floor = floor_ms(meta, problem_path, peaks_for(device_name), dims)
    fraction = floor / runtime_ms if floor is not None else None
    return tflops, gbps, fraction
