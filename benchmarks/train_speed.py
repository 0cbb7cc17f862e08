"""Training speed on the CPU: anyarray_nn (NumPy backend) against plain NumPy and PyTorch.

Times full SGD epochs over the 60,000 MNIST training images, in one process, for the
networks 784-64-10 and 784-800-10, batch sizes 128 and 1024, float32 and float64, and for
three implementations that start from the same initial weights and see the same batches
(epoch ``k`` of each uses the same permutation):

* ``anyarray_nn``: :meth:`anyarray_nn.Network.train_step` with :class:`anyarray_nn.SGD`,
  ``backend="numpy"`` (ReLU, softmax, cross-entropy: the library's defaults) -- the step
  users run;
* ``reference``: the minimal matrix-based NumPy MLP of ``benchmarks/reference_mlp.py``;
* ``torch``: PyTorch on the CPU (``nn.Linear``, ``F.cross_entropy``, ``optim.SGD``,
  tensors in memory, no DataLoader, as many threads as NumPy's BLAS), skipped with a
  message when torch is not installed;
* ``anyarray_nn-torch``, ``anyarray_nn-jax``: the library on its torch and JAX backends (CPU),
  stepped as the training loop steps it (JAX: the ``jax.jit`` fast path), beside a
  hand-written JAX MLP, ``jax-jit`` (a jit step in a Python loop) and ``jax-scan`` (a whole
  epoch under ``lax.scan``); see ``backend_rows.py`` and ``jax_mlp.py``.  Select rows with
  ``--impl``, e.g. ``--impl anyarray_nn torch anyarray_nn-torch anyarray_nn-jax jax-jit
  jax-scan``.

Every implementation gathers its batches from the same float array (pixels / 255, made
once) with the same index slices.  After one warm-up epoch each, the implementations take
turns epoch by epoch (so load on a shared machine hits all of them alike) and each row is
the median of ``--epochs`` (at least 5).  The table gives seconds per epoch, samples per
second, GFLOP/s (``3196 H`` FLOPs per sample for one hidden layer of ``H`` units, forward
plus backward), the fraction of the measured matrix-multiply peak of the same dtype, and the
ratios anyarray_nn / reference and anyarray_nn / torch.  It also reports the peak resident
memory of a 784-800-10 float32 run of :func:`anyarray_nn.training.loop.train` (one epoch, in a
subprocess) and the end-to-end time of ``anyarray-nn train`` with its defaults, data loading
included (skipped when the CLI is not available).

Install and run (torch is optional; install the CPU wheel *before* the ``bench`` extra so
that pip keeps it instead of fetching a CUDA build)::

    pip install -e '.[bench]'          # or: pip install torch==2.13.0 psutil threadpoolctl
    ANYARRAY_NN_DATA=/path/to/mnist python benchmarks/train_speed.py [--quick]
        [--epochs 5] [--json results.json] [--no-e2e] [--no-rss]

Without ``ANYARRAY_NN_DATA`` (or ``--data-dir``) it uses random uint8 data of MNIST's shape
and says so.  OpenBLAS picks its kernel from ``OPENBLAS_CORETYPE`` when that is set (e.g. a
forced ``Haswell`` kernel on an AVX-512 machine halves the peak); the kernel in use is
printed and saved, and ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...`` lets it
choose.  Timing numbers are never asserted by the tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from backend_rows import BACKEND_IMPLS, available, backend_ratios, make_runners  # noqa: E402
from bench_common import (  # noqa: E402
    CaseResult,
    blas_info,
    blas_summary,
    blas_threads,
    case_grid,
    cpu_model,
    derive,
    epoch_permutations,
    format_table,
    load_train_data,
    median_epoch,
    numpy_matmul_peak,
    parse_layers,
    versions,
    write_json,
)
from reference_mlp import ReferenceMLP  # noqa: E402

from anyarray_nn import SGD, Network  # noqa: E402
from anyarray_nn.backend import Backend, from_numpy  # noqa: E402

IMPLS = ("anyarray_nn", "reference", "torch", *BACKEND_IMPLS)
LEARNING_RATE = 0.05


# --- the three implementations -------------------------------------------------------------


class AnyarrayRunner:
    """anyarray_nn: ``Network.train_step`` + ``SGD`` on any backend (numpy here, cupy on GPUs).

    The data and each epoch's permutation are moved to the device once; a batch is two
    ``take`` calls and one ``train_step``.
    """

    def __init__(
        self,
        network: Network,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        learning_rate: float,
        name: str = "anyarray_nn",
    ) -> None:
        self.name = name
        self.network = network
        self.X = from_numpy(X, network.backend)
        self.y = from_numpy(y, network.backend)
        self.batch_size = int(batch_size)
        self.optimizer = SGD(learning_rate)

    @property
    def backend(self) -> Backend:
        return self.network.backend

    def epoch(self, perm: np.ndarray) -> None:
        net, xp, b = self.network, self.network.xp, self.batch_size
        perm_dev = from_numpy(perm, net.backend)
        X, y, opt = self.X, self.y, self.optimizer
        for start in range(0, perm.shape[0], b):
            idx = perm_dev[start : start + b]
            net.train_step(xp.take(X, idx, axis=0), xp.take(y, idx, axis=0), opt)

    def weights(self) -> list[np.ndarray]:
        return self.network.get_weights()[0]


class ReferenceRunner:
    """The plain NumPy reference (``reference_mlp.ReferenceMLP``)."""

    name = "reference"

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        learning_rate: float,
    ) -> None:
        self.model = ReferenceMLP(weights, biases, learning_rate)
        self.X, self.y, self.batch_size = X, y, int(batch_size)

    def epoch(self, perm: np.ndarray) -> None:
        X, y, b, step = self.X, self.y, self.batch_size, self.model.train_step
        for start in range(0, perm.shape[0], b):
            idx = perm[start : start + b]
            step(np.take(X, idx, axis=0), np.take(y, idx, axis=0))

    def weights(self) -> list[np.ndarray]:
        return self.model.weights


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


class TorchRunner:
    """PyTorch eager: ``nn.Linear`` + ``nn.ReLU``, ``F.cross_entropy``, ``optim.SGD``.

    Tensors live in memory on ``device`` (no DataLoader); the batch is an ``index_select``
    of the same permutation slice the other implementations use.
    """

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        learning_rate: float,
        device: str = "cpu",
        name: str = "torch",
    ) -> None:
        import torch
        from torch import nn

        self.torch = torch
        self.name = name
        self.device = device
        tdtype = torch.float64 if X.dtype == np.float64 else torch.float32
        layers: list[Any] = []
        for l, W in enumerate(weights):
            layers.append(nn.Linear(W.shape[1], W.shape[0]))
            if l < len(weights) - 1:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers).to(device=device, dtype=tdtype)
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, W, b in zip(linears, weights, biases, strict=True):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
        self.X = torch.from_numpy(X).to(device)
        self.y = torch.from_numpy(y).to(device)
        self.batch_size = int(batch_size)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=learning_rate)

    def epoch(self, perm: np.ndarray) -> None:
        torch, F = self.torch, self.torch.nn.functional
        perm_t = torch.from_numpy(perm).to(self.device)
        X, y, b, model, opt = self.X, self.y, self.batch_size, self.model, self.optimizer
        for start in range(0, perm.shape[0], b):
            idx = perm_t[start : start + b]
            loss = F.cross_entropy(model(X.index_select(0, idx)), y.index_select(0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def weights(self) -> list[np.ndarray]:
        return [
            m.weight.detach().cpu().numpy()
            for m in self.model
            if isinstance(m, self.torch.nn.Linear)
        ]


# --- measuring -------------------------------------------------------------------------------


def measure(
    runners: Sequence[Any],
    perms: Sequence[np.ndarray],
    epochs: int,
    sync: Callable[[], None] = lambda: None,
    timer: Callable[[Callable[[], None]], float] | None = None,
    pause: float = 0.0,
) -> dict[str, list[float]]:
    """Seconds of ``epochs`` epochs per runner after one warm-up epoch each.

    Runners take turns epoch by epoch, in an order that rotates every round; epoch ``k`` of
    every runner uses ``perms[k]`` (``perms[0]`` is the warm-up).  Before each timed epoch the
    process sleeps ``pause`` seconds, untimed, so that the worker threads of the runner before
    (OpenBLAS, OpenMP), which spin for a while after their last task, have gone to sleep and
    do not take cores from the next one.  A runner's own ``timer`` attribute, else ``timer``,
    times ``fn`` (CUDA events on a GPU); by default ``perf_counter`` around ``fn(); sync()``.
    """

    def wall(fn: Callable[[], None]) -> float:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0

    timer = timer or wall
    for r in runners:
        r.epoch(perms[0])
    sync()
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    n = len(runners)
    for k in range(1, epochs + 1):
        for i in range(n):
            r = runners[(i + k - 1) % n]
            if pause > 0:
                time.sleep(pause)
            run = getattr(r, "timer", None) or timer
            times[r.name].append(run(lambda r=r, k=k: r.epoch(perms[k])))
    return times


def max_weight_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    pairs = zip(a, b, strict=True)
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - y))) for x, y in pairs)


def float_data(images: np.ndarray, dtype: str) -> np.ndarray:
    """Pixels / 255 as ``dtype`` (one array shared by all implementations)."""
    X = images.astype(dtype)
    X *= 1.0 / 255.0
    return X


def run_cases(
    cases: Sequence[tuple[str, int, str]],
    images: np.ndarray,
    labels: np.ndarray,
    impls: Sequence[str],
    epochs: int,
    peaks: dict[str, float],
    torch_threads: int,
    log: Callable[[str], None] = print,
    pause: float = 0.0,
) -> list[CaseResult]:
    """Measure every case for every implementation in ``impls`` (torch skipped when absent)."""
    results: list[CaseResult] = []
    data: dict[str, np.ndarray] = {}
    perms = epoch_permutations(images.shape[0], epochs + 1)
    if "torch" in impls:
        import torch

        torch.set_num_threads(torch_threads)
    for layers, batch, dtype in cases:
        if dtype not in data:
            data.clear()  # keep one float copy of the data set in memory
            data[dtype] = float_data(images, dtype)
        X = data[dtype]
        sizes = parse_layers(layers)
        net = Network(sizes, dtype=dtype, backend="numpy", seed=0)
        W0, b0 = net.get_weights()
        runners: list[Any] = []
        if "anyarray_nn" in impls:
            runners.append(AnyarrayRunner(net, X, labels, batch, LEARNING_RATE))
        if "reference" in impls:
            runners.append(ReferenceRunner(W0, b0, X, labels, batch, LEARNING_RATE))
        if "torch" in impls:
            runners.append(TorchRunner(W0, b0, X, labels, batch, LEARNING_RATE))
        runners += make_runners(impls, sizes, dtype, W0, b0, X, labels, batch, LEARNING_RATE)
        times = measure(runners, perms, epochs, pause=pause)
        base = runners[0].weights()
        agreement = {r.name: max_weight_difference(base, r.weights()) for r in runners[1:]}
        for r in runners:
            note = ""
            if r.name in agreement:
                note = f"max |W - W_{runners[0].name}| after training: {agreement[r.name]:.2e}"
            res = CaseResult(
                impl=r.name,
                layers=layers,
                batch_size=batch,
                dtype=dtype,
                seconds_per_epoch=median_epoch(times[r.name]),
                epoch_seconds=times[r.name],
                note=note,
            )
            results.append(derive(res, images.shape[0], peaks.get(dtype)))
        summary = ", ".join(f"{r.name} {median_epoch(times[r.name]):.4f} s" for r in runners)
        log(f"  {layers:>10} batch {batch:>4} {dtype}: {summary}")
    return results


# --- peak memory and end to end ----------------------------------------------------------


def _rss_child(data_dir: str | None) -> None:
    """Subprocess body: one epoch of 784-800-10 float32 with ``anyarray_nn.training.loop.train``."""
    from anyarray_nn.training import train

    images, labels, _, source = load_train_data(data_dir)
    before = _maxrss_mb()
    net = Network([784, 800, 10], dtype="float32", backend="numpy", seed=0)
    t0 = time.perf_counter()
    train(net, images, labels, epochs=1, batch_size=128, optimizer="sgd", progress=False)
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "peak_rss_mb": _maxrss_mb(),
                "peak_rss_mb_after_data": before,
                "psutil_rss_mb": _psutil_rss_mb(),
                "train_seconds": seconds,
                "data": source,
            }
        )
    )


def _maxrss_mb() -> float:
    """Peak resident memory of this process in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, which starts afresh at ``exec``;
    ``ru_maxrss`` would still hold the peak of the parent that forked this process.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0  # KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _psutil_rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss / 2**20


def measure_peak_rss(data_dir: str | None) -> dict[str, Any]:
    """Peak RSS of a 784-800-10 float32 training run (one epoch), in a fresh subprocess."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child"]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def e2e_command(extra: Sequence[str] = ()) -> list[str] | None:
    """How to run ``anyarray-nn train [extra]`` with this interpreter (``None``: no CLI)."""
    try:
        if importlib.util.find_spec("anyarray_nn.cli.main") is None:
            return None
    except ImportError:
        return None
    if importlib.util.find_spec("anyarray_nn.__main__") is not None:
        return [sys.executable, "-m", "anyarray_nn", "train", *extra]
    code = (
        f"import sys; sys.argv = ['anyarray-nn', 'train', *{list(extra)!r}]; "
        "from anyarray_nn.cli.main import main; sys.exit(main())"
    )
    return [sys.executable, "-c", code]


def measure_e2e(timeout: float = 3600.0, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Wall time of ``anyarray-nn train [extra]`` (defaults otherwise), in a scratch folder."""
    cmd = e2e_command(extra)
    if cmd is None:
        return {"skipped": "CLI not available"}
    with tempfile.TemporaryDirectory(prefix="anyarray_nn_e2e_") as tmp:
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"command": " ".join(cmd), "error": f"timed out after {timeout:.0f} s"}
        seconds = time.perf_counter() - t0
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
    return {
        "command": " ".join(["anyarray-nn", "train", *extra]),
        "seconds": seconds,
        "returncode": proc.returncode,
        "output_tail": tail,
    }


# --- main -------------------------------------------------------------------------------------


def keep_freed_memory() -> str:
    """Ask glibc to keep freed memory in the process (``mallopt``), like
    ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1000000000``.

    By default glibc hands the multi-megabyte arrays of a training step back to the kernel
    and faults them in again at the next step (thousands of page faults per step at
    784-800-10, batch 1024).  Returns what was done, for the record.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "not available (no glibc mallopt)"
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 * 2**20) and mallopt(m_trim_threshold, 2**30)
    return "mallopt(M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=1 GiB)" + ("" if ok else " failed")


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _limit_threads(n: int) -> None:
    """Limit NumPy's BLAS to ``n`` threads for the rest of the process (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("--threads needs threadpoolctl (pip install threadpoolctl); ignored")
        return
    threadpool_limits(limits=n, user_api="blas")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Training speed on the CPU: anyarray_nn vs plain NumPy vs PyTorch."
    )
    parser.add_argument("--quick", action="store_true", help="only 784-64-10, 128, float32")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per case (>= 5)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="save results")
    parser.add_argument(
        "--markdown", type=Path, default=None, metavar="PATH", help="save the table as Markdown"
    )
    parser.add_argument("--data-dir", default=os.environ.get("ANYARRAY_NN_DATA"))
    parser.add_argument("--impl", nargs="+", choices=IMPLS, default=list(IMPLS))
    parser.add_argument("--layers", nargs="+", default=None, help="e.g. 784-64-10")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=None)
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "float64"), default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and torch threads (default: the BLAS default; needs threadpoolctl)",
    )
    parser.add_argument(
        "--keep-memory",
        action="store_true",
        help="glibc: keep freed memory in the process (no page faults per step)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.25,
        help="untimed seconds before each epoch, for the previous runner's threads to idle",
    )
    parser.add_argument("--no-e2e", action="store_true", help="skip `anyarray-nn train`")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory run")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    if args.rss_child:
        _rss_child(args.data_dir)
        return {}
    epochs = max(5, args.epochs)
    impls = list(dict.fromkeys(args.impl))
    if "torch" in impls and not torch_available():
        print("torch: skipped (not installed; `pip install torch` to compare with PyTorch)")
        impls.remove("torch")
    for impl in [i for i in impls if i in BACKEND_IMPLS and not available(i)]:
        print(f"{impl}: skipped ({BACKEND_IMPLS[impl]} is not installed)")
        impls.remove(impl)
    grid: dict[str, Any] = {}
    if args.layers:
        grid["layers"] = args.layers
    if args.batch_sizes:
        grid["batch_sizes"] = args.batch_sizes
    if args.dtypes:
        grid["dtypes"] = args.dtypes
    cases = case_grid(args.quick, **grid)

    if args.threads is not None:
        _limit_threads(args.threads)
    allocator = keep_freed_memory() if args.keep_memory else "default"
    info = blas_info()
    vers = versions(extra=("torch", "jax", "threadpoolctl", "psutil"))
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs")
    print(blas_summary(info))
    print("env: " + ", ".join(f"{k}={v}" for k, v in info["env"].items() if v is not None))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v is not None))
    images, labels, load_s, source = load_train_data(args.data_dir)
    print(f"data: {source} ({images.shape[0]} images, loaded in {load_s:.2f} s)")
    dtypes = sorted({d for _, _, d in cases})
    peaks = {d: numpy_matmul_peak(d) for d in dtypes}
    for d, p in peaks.items():
        print(f"matmul peak ({d}, 2048^2 NumPy product): {p:.1f} GFLOP/s")
    threads = blas_threads(info)
    print(
        f"timing: median of {epochs} epochs after 1 warm-up, turns rotating, {args.pause} s "
        f"pause before each; torch threads = {threads}"
    )
    print(f"allocator: {allocator}")

    load_before = _load_average()
    results = run_cases(cases, images, labels, impls, epochs, peaks, threads, pause=args.pause)
    load_after = _load_average()
    # The peak again at the end; the better of the two is the machine's (others may share it).
    for d in dtypes:
        again = numpy_matmul_peak(d)
        print(f"matmul peak ({d}) at the end: {again:.1f} GFLOP/s")
        peaks[d] = max(peaks[d], again)
    for r in results:
        derive(r, images.shape[0], peaks.get(r.dtype))
    print(f"load average (1 min) before / after the cases: {load_before} / {load_after}")
    others = [i for i in ("reference", "torch") if i in impls]
    print()
    print(format_table(results, "anyarray_nn", others))
    for line in backend_ratios(results):
        print(line)

    extras: dict[str, Any] = {}
    if not args.no_rss and not args.quick:
        extras["peak_rss"] = measure_peak_rss(args.data_dir)
        r = extras["peak_rss"]
        if "error" in r:
            print(f"\npeak RSS: failed: {r['error']}")
        else:
            print(
                f"\npeak RSS, 784-800-10 float32, one epoch of anyarray_nn.training.loop.train: "
                f"{r['peak_rss_mb']:.0f} MiB (after loading the data: "
                f"{r['peak_rss_mb_after_data']:.0f} MiB)"
            )
    if not args.no_e2e and not args.quick:
        extras["e2e"] = measure_e2e()
        e = extras["e2e"]
        if "skipped" in e:
            print(f"anyarray-nn train (end to end): skipped: {e['skipped']}")
        elif "error" in e:
            print(f"anyarray-nn train (end to end): {e['error']}")
        else:
            print(
                f"anyarray-nn train (end to end, defaults, data loading included): "
                f"{e['seconds']:.1f} s (exit status {e['returncode']})"
            )
    meta = {
        "suite": "cpu",
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count()},
        "versions": vers,
        "blas": info,
        "data": source,
        "data_load_seconds": load_s,
        "epochs": epochs,
        "pause_seconds": args.pause,
        "threads": threads,
        "learning_rate": LEARNING_RATE,
        "matmul_peak_gflops": peaks,
        "load_average_1min": {"before": load_before, "after": load_after},
        "allocator": allocator,
        **extras,
    }
    if args.json is not None:
        print(f"\nwrote {write_json(args.json, results, **meta)}")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown_report(results, meta, others), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return {"cases": [r.to_dict() for r in results], **meta}


def markdown_report(results: Sequence[CaseResult], meta: dict[str, Any], others: list[str]) -> str:
    """The CPU results as Markdown: machine, BLAS, versions, peaks, table, memory, e2e."""
    vers = meta.get("versions", {})
    lines = [f"# Training speed on {meta['machine']['cpu']} ({meta['machine']['cpus']} CPUs)", ""]
    lines.append("- " + blas_summary(meta.get("blas", {})))
    env = meta.get("blas", {}).get("env", {})
    lines.append(
        "- BLAS environment: "
        + (", ".join(f"{k}={v}" for k, v in env.items() if v) or "nothing set")
    )
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v))
    for d, p in meta.get("matmul_peak_gflops", {}).items():
        lines.append(f"- matmul peak ({d}, 2048^2): {p:.1f} GFLOP/s")
    load = meta.get("load_average_1min", {})
    lines.append(
        f"- median of {meta.get('epochs')} epochs after 1 warm-up, turns rotating, "
        f"{meta.get('pause_seconds')} s pause; {meta.get('threads')} threads; allocator "
        f"{meta.get('allocator')}; load average {load.get('before')} / {load.get('after')}"
    )
    lines += ["", format_table(results, "anyarray_nn", others), ""]
    rss = meta.get("peak_rss")
    if rss and "peak_rss_mb" in rss:
        lines.append(
            f"Peak RSS, 784-800-10 float32 training (one epoch): {rss['peak_rss_mb']:.0f} MiB"
        )
    e2e = meta.get("e2e")
    if e2e and "seconds" in e2e:
        lines.append(f"`{e2e['command']}` end to end: {e2e['seconds']:.1f} s")
    elif e2e:
        lines.append(f"`anyarray-nn train`: {e2e.get('skipped') or e2e.get('error')}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
