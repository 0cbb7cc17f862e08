"""Shared pieces of the training-speed benchmarks (CPU: ``train_speed.py``, GPU: ``gpu_speed.py``).

Pure host code (NumPy and the standard library): the data, the case grid, the FLOP count,
the matrix-multiply peak on NumPy, environment and version records, and the table / JSON
formats, so that both suites write the same records and the formatting can be unit-tested on
a machine without a GPU.
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anyarray_nn import files

N_TRAIN = 60_000
#: The case grid of the CPU suite (issue 6): layers x batch sizes x dtypes.
LAYERS = ("784-64-10", "784-800-10")
BATCH_SIZES = (128, 1024)
DTYPES = ("float32", "float64")
#: Environment variables that change which BLAS kernel runs; recorded with every result.
BLAS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


@dataclass
class CaseResult:
    """One measured case: an implementation on one network, batch size and dtype.

    ``impl``, ``layers``, ``batch_size``, ``dtype`` and ``seconds_per_epoch`` are the record
    the issue asks for; the rest is derived or diagnostic.
    """

    impl: str
    layers: str
    batch_size: int
    dtype: str
    seconds_per_epoch: float
    epoch_seconds: list[float] = field(default_factory=list)
    samples_per_second: float = 0.0
    gflops: float = 0.0
    fraction_of_peak: float | None = None
    note: str = ""
    #: GPU rows only: whether float32 matrix products ran in TF32 (None on the CPU).
    tf32: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> tuple[str, int, str, bool | None]:
        """What makes two rows comparable: network, batch size, dtype, TF32 mode."""
        return (self.layers, self.batch_size, self.dtype, self.tf32)

    @property
    def dtype_label(self) -> str:
        return self.dtype + ("+tf32" if self.tf32 else "")


def parse_layers(layers: str) -> list[int]:
    """``"784-64-10"`` -> ``[784, 64, 10]``.

    Raises
    ------
    ValueError
        For anything but two or more positive integers joined by ``-``.
    """
    try:
        sizes = [int(part) for part in str(layers).split("-")]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layers must look like '784-64-10', not {layers!r}")
    return sizes


def flops_per_sample(sizes: Sequence[int]) -> int:
    """Floating-point operations of one training sample, forward plus backward.

    Each layer costs ``2 n_in n_out`` in the forward product, as much again for ``dW`` and
    for the error sent to the layer below, except below the first layer (no input
    gradient).  For 784-H-10 that is ``3196 H``.
    """
    pairs = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
    return 6 * sum(a * b for a, b in pairs) - 2 * pairs[0][0] * pairs[0][1]


def derive(result: CaseResult, n_samples: int, peak_gflops: float | None) -> CaseResult:
    """Fill samples/s, GFLOP/s and the fraction of ``peak_gflops`` from the epoch time."""
    s = result.seconds_per_epoch
    sizes = parse_layers(result.layers)
    result.samples_per_second = n_samples / s if s > 0 else float("inf")
    result.gflops = flops_per_sample(sizes) * n_samples / s / 1e9 if s > 0 else float("inf")
    result.fraction_of_peak = result.gflops / peak_gflops if peak_gflops else None
    return result


def case_grid(
    quick: bool = False,
    layers: Iterable[str] = LAYERS,
    batch_sizes: Iterable[int] = BATCH_SIZES,
    dtypes: Iterable[str] = DTYPES,
) -> list[tuple[str, int, str]]:
    """The (layers, batch_size, dtype) cases; ``quick`` is only 784-64-10, 128, float32."""
    if quick:
        return [("784-64-10", 128, "float32")]
    return [(lay, int(b), d) for lay in layers for b in batch_sizes for d in dtypes]


def median_epoch(times: Sequence[float]) -> float:
    return float(statistics.median(times))


# --- data ---------------------------------------------------------------------------


def load_train_data(data_dir: str | None) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Training images ``(60000, 784)`` uint8, int64 labels, load seconds, and their source.

    Reads the MNIST files from ``data_dir`` (never downloads); without a folder, random
    uint8 data of MNIST's shape, and the source says so.
    """
    reason = "ANYARRAY_NN_DATA is not set and no --data-dir was given"
    if data_dir:
        from anyarray_nn.data import load_mnist

        t0 = time.perf_counter()
        try:
            mnist = load_mnist(data_dir, download=False)
        except Exception as exc:
            reason = f"loading MNIST from {data_dir} failed: {type(exc).__name__}: {exc}"
        else:
            seconds = time.perf_counter() - t0
            images = np.ascontiguousarray(mnist.train_images.reshape(-1, 784))
            labels = mnist.train_labels.astype(np.int64)
            return images, labels, seconds, f"MNIST from {data_dir}"
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    images = rng.integers(0, 256, size=(N_TRAIN, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, size=N_TRAIN).astype(np.int64)
    return images, labels, time.perf_counter() - t0, f"SYNTHETIC random uint8 ({reason})"


def epoch_permutations(n: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` host permutations of ``range(n)``: epoch ``k`` of every implementation uses
    permutation ``k``, so all see the same batches."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n).astype(np.int64) for _ in range(count)]


# --- the machine ---------------------------------------------------------------------


def numpy_matmul_peak(dtype: str = "float32", n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an ``n x n`` by ``n x n`` NumPy product (``2 n^3`` FLOPs)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = a @ b  # warm-up (thread pool start, page faults)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def blas_info() -> dict[str, Any]:
    """BLAS libraries, kernels and thread counts (threadpoolctl), NumPy's build config, and
    the environment variables that steer the kernel choice."""
    info: dict[str, Any] = {"env": {k: os.environ.get(k) for k in BLAS_ENV}}
    try:
        from threadpoolctl import threadpool_info

        info["threadpoolctl"] = threadpool_info()
    except ImportError:
        info["threadpoolctl"] = "not installed (pip install threadpoolctl)"
    try:
        info["numpy_config"] = np.show_config(mode="dicts")
    except Exception as exc:  # older NumPy: no mode=
        info["numpy_config"] = f"unavailable: {exc}"
    return info


def blas_summary(info: dict[str, Any]) -> str:
    """One line: which BLAS, which kernel (``architecture``), how many threads."""
    pools = info.get("threadpoolctl")
    if not isinstance(pools, list) or not pools:
        return "BLAS: unknown (threadpoolctl missing)"
    parts = []
    for p in pools:
        arch, threads = p.get("architecture", "?"), p.get("num_threads")
        parts.append(f"{p.get('internal_api')} {p.get('version')} kernel={arch} threads={threads}")
    return "BLAS: " + "; ".join(parts)


def blas_threads(info: dict[str, Any]) -> int:
    pools = info.get("threadpoolctl")
    if isinstance(pools, list):
        for p in pools:
            if p.get("user_api") == "blas":
                return int(p.get("num_threads", 1))
    return os.cpu_count() or 1


def versions(extra: Iterable[str] = ()) -> dict[str, str | None]:
    """Versions of Python and the libraries that matter (``None`` when not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("numpy", "anyarray_nn", "array_api_compat", "array_api_strict", *extra):
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except Exception:
            out[name] = None
    return out


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --- output ---------------------------------------------------------------------------


def ratio_table(results: Sequence[CaseResult], ours: str, others: Sequence[str]) -> dict:
    """``{CaseResult.key: {other: ours_seconds / other_seconds}}``."""
    by_key: dict[tuple[Any, ...], dict[str, float]] = {}
    for r in results:
        by_key.setdefault(r.key, {})[r.impl] = r.seconds_per_epoch
    ratios: dict[tuple[Any, ...], dict[str, float]] = {}
    for key, times in by_key.items():
        if ours in times:
            ratios[key] = {o: times[ours] / times[o] for o in others if o in times}
    return ratios


def format_table(results: Sequence[CaseResult], ours: str, others: Sequence[str]) -> str:
    """The results as a Markdown table (which also reads well as plain text).

    Columns: case, implementation, seconds per epoch, samples per second, GFLOP/s, the
    fraction of the matmul peak, and on ``ours`` rows the ratio ``ours / other`` for each
    implementation in ``others``.
    """
    ratios = ratio_table(results, ours, others)
    head = ["layers", "batch", "dtype", "impl", "s/epoch", "samples/s", "GFLOP/s", "% peak"]
    head += [f"{ours}/{o}" for o in others]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in results:
        peak = f"{100 * r.fraction_of_peak:.0f}%" if r.fraction_of_peak is not None else ""
        row = [
            r.layers,
            str(r.batch_size),
            r.dtype_label,
            r.impl,
            f"{r.seconds_per_epoch:.4f}",
            f"{r.samples_per_second:,.0f}",
            f"{r.gflops:.1f}",
            peak,
        ]
        for o in others:
            value = ratios.get(r.key, {}).get(o) if r.impl == ours else None
            row.append(f"{value:.2f}" if value is not None else "")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_json(path: str | Path, results: Sequence[CaseResult], **meta: Any) -> Path:
    """Write ``{"cases": [...], **meta}`` to ``path`` atomically (temp file + rename)."""
    payload = {"cases": [r.to_dict() for r in results], **meta}
    return files.write_json(path, payload)
