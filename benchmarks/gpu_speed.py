"""Training speed on an NVIDIA GPU: anyarray_nn on CuPy against PyTorch eager CUDA (issue 7).

The GPU counterpart of ``train_speed.py``, with the same records: full SGD epochs over the
60,000 MNIST training images, networks 784-64-10 and 784-800-10, batch sizes 128, 1024 and
8192, float32, for

* ``anyarray_nn_cupy``: :meth:`anyarray_nn.Network.train_step` + SGD on ``backend="cupy"``
  (data and permutations resident on the GPU);
* ``torch_cuda``: PyTorch eager on CUDA (``nn.Linear``, ``F.cross_entropy``, ``optim.SGD``),
  same initial weights, same batches.

Each TF32 mode runs in its own child process, because CuPy reads ``CUPY_TF32`` once per
process: one child with TF32 off (``CUPY_TF32=0``, torch ``fp32_precision="ieee"``) and one
with it on (rows marked ``float32+tf32``).  Epochs are timed with CUDA events of the library
that runs them (the device is idle at each start), after one warm-up epoch; each row is the
median of ``--epochs``.  The table also gives the fraction of the GPU's float32 matrix-multiply
rate (an 8192^2 CuPy product timed with ``cupyx.profiler.benchmark``, in the same TF32 mode).

Also measured, each in a fresh process: the time to 98% test accuracy end to end (process
start, CUDA start, MNIST load, training 784-800-10 with Adam until the test accuracy after
an epoch reaches 98%) and the end-to-end time of ``anyarray-nn train --backend cupy`` when the
CLI exists.

Writes ``<out-dir>/<gpu-name>.json`` (``cases`` as in the CPU suite, plus GPU model, driver,
CUDA, CuPy and torch versions, and ``errors``) and ``<out-dir>/<gpu-name>.md`` (the table)
after *every* child process, so that a run cut short keeps what it measured; the children's
output is streamed as it comes.  ``--budget`` bounds the whole run (a child that would start
with less than 20 s left is skipped and reported); a child past ``--timeout`` gets SIGINT.
The exit status is 1 when anything failed: a child, the time-to-accuracy target not reached,
or a failing ``anyarray-nn train`` run::

    ANYARRAY_NN_DATA=/path/to/mnist python benchmarks/gpu_speed.py [--out-dir benchmarks/results]
        [--epochs 5] [--quick] [--no-tf32] [--no-torch] [--no-accuracy] [--no-e2e]
        [--timeout S] [--budget S] [--target 0.98] [--accuracy-epochs 30] [--e2e-args "..."]

Without a usable GPU it says so and exits with status 2 (``--dry-run``: the same flow on the
CPU, NumPy standing in).  ``benchmarks/run_gpu_checks.sh`` runs it (and the CuPy tests) on a
GPU machine in one command.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from bench_common import (  # noqa: E402
    CaseResult,
    case_grid,
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
from train_speed import (  # noqa: E402
    LEARNING_RATE,
    AnyarrayRunner,
    TorchRunner,
    e2e_command,
    float_data,
    max_weight_difference,
    measure,
    torch_available,
)

from anyarray_nn.files import atomic_write  # noqa: E402

OURS, THEIRS = "anyarray_nn_cupy", "torch_cuda"
GPU_LAYERS = ("784-64-10", "784-800-10")
GPU_BATCH_SIZES = (128, 1024, 8192)
TARGET_ACCURACY = 0.98


# --- pure helpers (unit-tested on the CPU) ----------------------------------------------------


def gpu_slug(name: str) -> str:
    """A file-name-safe GPU name: ``"NVIDIA H200"`` -> ``"nvidia-h200"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "unknown-gpu"


def child_command(
    script: str | Path, tf32: bool, out: str | Path, passthrough: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the child that measures one TF32 mode."""
    cmd = [sys.executable, str(script), "--child", "--tf32", "on" if tf32 else "off"]
    cmd += ["--child-out", str(out), *passthrough]
    env = dict(os.environ, CUPY_TF32="1" if tf32 else "0")
    return cmd, env


def passthrough_args(args: argparse.Namespace) -> list[str]:
    """The parent's options that the children need."""
    out = ["--epochs", str(args.epochs)]
    if args.limit:
        out += ["--limit", str(args.limit)]
    if args.quick:
        out.append("--quick")
    if args.no_torch:
        out.append("--no-torch")
    if args.data_dir:
        out += ["--data-dir", str(args.data_dir)]
    if args.layers:
        out += ["--layers", *args.layers]
    if args.batch_sizes:
        out += ["--batch-sizes", *map(str, args.batch_sizes)]
    return out


def gpu_cases(args: argparse.Namespace) -> list[tuple[str, int, str]]:
    """(layers, batch, "float32") cases; ``--quick`` is 784-64-10 at 128 and 784-800-10 at 8192."""
    if args.quick:
        return [("784-64-10", 128, "float32"), ("784-800-10", 8192, "float32")]
    return case_grid(
        layers=args.layers or GPU_LAYERS,
        batch_sizes=args.batch_sizes or GPU_BATCH_SIZES,
        dtypes=("float32",),
    )


def markdown_report(payload: dict[str, Any]) -> str:
    """The Markdown file: GPU, versions, matmul peak, the table, time to accuracy, e2e."""
    gpu = payload.get("gpu", {})
    vers = payload.get("versions", {})
    lines = [f"# Training speed on {gpu.get('name', 'unknown GPU')}", ""]
    lines.append(
        f"- GPU: {gpu.get('name')} ({gpu.get('total_memory_gib', 0):.0f} GiB, compute "
        f"capability {gpu.get('compute_capability')}), driver {gpu.get('driver')}, CUDA "
        f"runtime {gpu.get('cuda_runtime_version')}"
    )
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v is not None))
    for mode, peak in sorted(payload.get("matmul_peak_gflops", {}).items()):
        lines.append(f"- float32 matmul peak ({mode}, 8192^2 CuPy product): {peak:,.0f} GFLOP/s")
    lines.append(
        f"- median of {payload.get('epochs')} epochs after 1 warm-up, CUDA-event timing; "
        f"SGD, learning rate {payload.get('learning_rate')}"
    )
    lines += ["", format_table(_as_results(payload.get("cases", [])), OURS, [THEIRS]), ""]
    extra = (accuracy_line(payload.get("time_to_accuracy")), e2e_line(payload.get("e2e")))
    lines += [line for line in extra if line]
    errors = payload.get("errors") or []
    if errors:
        lines += ["", f"**{len(errors)} error(s)** in this run:", *[f"- {e}" for e in errors]]
    return "\n".join(lines) + "\n"


def accuracy_line(tta: dict[str, Any] | None) -> str | None:
    """The time-to-accuracy line; it says so plainly when the target was not reached."""
    if not tta:
        return None
    if "seconds" not in tta:
        return f"Time to accuracy: **not measured**: {tta.get('error', tta)}"
    target = f"{100 * tta['target']:.0f}%"
    best = max(tta.get("accuracy_per_epoch") or [0.0])
    if not tta.get("reached", True):
        return (
            f"Time to {target} test accuracy ({tta['setup']}): **target NOT reached** in "
            f"{tta['epochs']} epochs ({tta['seconds']:.1f} s; best accuracy {100 * best:.2f}%)"
        )
    return (
        f"Time to {target} test accuracy ({tta['setup']}): **{tta['seconds']:.1f} s** end to "
        f"end (data load {tta['load_seconds']:.1f} s, training {tta['train_seconds']:.1f} s, "
        f"{tta['epochs']} epochs, accuracy {100 * tta['accuracy']:.2f}%)"
    )


def e2e_line(e2e: dict[str, Any] | None) -> str | None:
    """The ``anyarray-nn train`` line; a failed run says FAILED."""
    if not e2e:
        return None
    if "seconds" not in e2e:
        return f"`anyarray-nn train`: {e2e.get('skipped') or e2e.get('error') or e2e}"
    verdict = "" if e2e.get("returncode") == 0 else " **FAILED**"
    return (
        f"`{e2e['command']}` end to end: {e2e['seconds']:.1f} s "
        f"(exit status {e2e['returncode']}){verdict}"
    )


def _as_results(cases: Sequence[dict[str, Any]]) -> list[CaseResult]:
    return [CaseResult(**c) for c in cases]


# --- GPU-only parts (cupy and torch imported inside) --------------------------------------


def gpu_available() -> tuple[bool, str]:
    """Whether CuPy can use a GPU here, and why not."""
    try:
        import cupy
    except ImportError as exc:
        return False, f"CuPy is not installed ({exc})"
    try:
        if not cupy.cuda.is_available():
            return False, "CuPy finds no CUDA device"
    except Exception as exc:
        return False, f"CUDA is not usable: {type(exc).__name__}: {exc}"
    return True, ""


def gpu_info() -> dict[str, Any]:
    """Model, memory, compute capability, driver and CUDA versions of the current GPU."""
    import cupy

    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    info: dict[str, Any] = {
        "name": name,
        "total_memory_gib": props["totalGlobalMem"] / 2**30,
        "compute_capability": str(dev.compute_capability),
        "driver_api_version": cupy.cuda.runtime.driverGetVersion(),
        "cuda_runtime_version": cupy.cuda.runtime.runtimeGetVersion(),
        "driver": None,
    }
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        info["driver"] = smi.stdout.strip().splitlines()[dev.id] if smi.returncode == 0 else None
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    if torch_available():
        import torch

        info["torch_cuda"] = torch.version.cuda
    return info


def set_torch_tf32(on: bool) -> None:
    """TF32 for torch float32 matrix products (the new API where it exists)."""
    import torch

    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = "tf32" if on else "ieee"
    else:
        matmul.allow_tf32 = on


def cupy_matmul_peak(n: int = 8192) -> float:
    """Best GFLOP/s of an ``n x n`` float32 CuPy product (GPU time, cupyx.profiler)."""
    import cupy
    from cupyx.profiler import benchmark

    rng = np.random.default_rng(0)
    a = cupy.asarray(rng.standard_normal((n, n), dtype=np.float32))
    b = cupy.asarray(rng.standard_normal((n, n), dtype=np.float32))
    result = benchmark(cupy.matmul, (a, b), n_repeat=20, n_warmup=3)
    seconds = float(np.min(np.asarray(result.gpu_times)))
    return 2.0 * n**3 / seconds / 1e9


def cupy_timer(fn: Any) -> float:
    """Seconds of ``fn()`` between two CUDA events on CuPy's current stream."""
    import cupy

    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    cupy.cuda.Device().synchronize()
    start.record()
    fn()
    end.record()
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) / 1e3


def torch_timer(fn: Any) -> float:
    """Seconds of ``fn()`` between two CUDA events on torch's current stream."""
    import torch

    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3


def _torch_usable(args: argparse.Namespace, on_gpu: bool, tf32: bool) -> bool:
    """Whether torch runs beside us (on CUDA on a GPU, set to this child's TF32 mode)."""
    if args.no_torch or not torch_available():
        return False
    if not on_gpu:
        return True
    import torch

    if not torch.cuda.is_available():
        return False
    set_torch_tf32(tf32)
    return True


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every case in this process's TF32 mode; returns the JSON-ready payload."""
    from anyarray_nn import Network
    from anyarray_nn.backend import resolve_backend

    tf32 = args.tf32 == "on"
    on_gpu = args.backend == "cupy"  # anything else is a CPU dry run of this script
    backend = resolve_backend(args.backend)
    use_torch = _torch_usable(args, on_gpu, tf32)
    images, labels, load_s, source = load_train_data(args.data_dir)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    peak = cupy_matmul_peak() if on_gpu else numpy_matmul_peak("float32", n=512)
    cases = gpu_cases(args)
    epochs = max(5, args.epochs)
    perms = epoch_permutations(images.shape[0], epochs + 1)
    results: list[CaseResult] = []
    X_cache: dict[str, np.ndarray] = {}
    for layers, batch, dtype in cases:
        if dtype not in X_cache:  # one converted copy at a time
            X_cache = {dtype: float_data(images, dtype)}
        X = X_cache[dtype]
        net = Network(parse_layers(layers), dtype=dtype, backend=backend, seed=0)
        W0, b0 = net.get_weights()
        ours = AnyarrayRunner(net, X, labels, batch, LEARNING_RATE, name=OURS)
        runners: list[Any] = [ours]
        if use_torch:
            device = "cuda" if on_gpu else "cpu"
            runners.append(TorchRunner(W0, b0, X, labels, batch, LEARNING_RATE, device, THEIRS))
        if on_gpu:
            ours.timer = cupy_timer  # type: ignore[attr-defined]
            if use_torch:
                runners[1].timer = torch_timer
        times = measure(runners, perms, epochs, pause=0.05)
        diff = max_weight_difference(ours.weights(), runners[1].weights()) if use_torch else None
        for r in runners:
            note = f"max |W - W_{OURS}| after training: {diff:.2e}" if r is not ours else ""
            res = CaseResult(
                impl=r.name,
                layers=layers,
                batch_size=batch,
                dtype=dtype,
                seconds_per_epoch=median_epoch(times[r.name]),
                epoch_seconds=times[r.name],
                tf32=tf32,
                note=note if diff is not None else "",
            )
            results.append(derive(res, images.shape[0], peak))
        line = ", ".join(f"{r.name} {median_epoch(times[r.name]):.4f} s" for r in runners)
        print(f"  [tf32 {args.tf32}] {layers:>10} batch {batch:>5}: {line}", flush=True)
    return {
        "cases": [r.to_dict() for r in results],
        "tf32": tf32,
        "matmul_peak_gflops": peak,
        "data": source,
        "data_load_seconds": load_s,
        "gpu": gpu_info() if on_gpu else {"name": f"dry run on {args.backend}"},
        "versions": versions(extra=("cupy", "torch")),
    }


class _TargetReachedError(Exception):
    """Raised from the training callback to stop at the target accuracy."""


def time_to_accuracy(
    data_dir: str | None,
    backend: str = "cupy",
    target: float = TARGET_ACCURACY,
    max_epochs: int = 30,
    limit: int | None = None,
) -> dict[str, Any]:
    """Train 784-800-10 (ReLU, softmax, cross-entropy, Adam 1e-3, batch 128) with
    :func:`anyarray_nn.training.train` until the test accuracy after an epoch reaches
    ``target``; the times are from the start of this function (data loading included).
    ``limit`` keeps only the first training images (dry runs on the CPU)."""
    from anyarray_nn import Network
    from anyarray_nn.backend import from_numpy, resolve_backend, to_numpy
    from anyarray_nn.data import load_mnist
    from anyarray_nn.training import train

    t0 = time.perf_counter()
    if not data_dir:
        return {"error": "needs the real MNIST: set ANYARRAY_NN_DATA or pass --data-dir"}
    mnist = load_mnist(data_dir, download=False)
    b = resolve_backend(backend)
    net = Network([784, 800, 10], backend=b, seed=0)
    test_X = from_numpy(mnist.test_images.reshape(-1, 784) / 255.0, b, "float32")
    test_y = mnist.test_labels.astype(np.int64)  # compared on the host once per epoch
    load_s = time.perf_counter() - t0
    history: list[float] = []

    def check(record: Any) -> None:
        accuracy = float(np.mean(to_numpy(net.predict(test_X)) == test_y))
        history.append(accuracy)
        if accuracy >= target:
            raise _TargetReachedError

    setup = "784-800-10 ReLU, Adam 1e-3, batch 128, float32, " + backend
    reached = False
    try:
        train(
            net,
            mnist.train_images[:limit],
            mnist.train_labels[:limit],
            epochs=max_epochs,
            batch_size=128,
            optimizer="adam",
            learning_rate=1e-3,
            progress=False,
            diagnostics=False,
            callback=check,
        )
    except _TargetReachedError:
        reached = True
    seconds = time.perf_counter() - t0
    result = {"target": target, "setup": setup, "seconds": seconds, "load_seconds": load_s}
    result.update(train_seconds=seconds - load_s, epochs=len(history), reached=reached)
    result.update(accuracy=history[-1] if history else None, accuracy_per_epoch=history)
    if not reached:
        result["error"] = f"{100 * target:.0f}% not reached in {max_epochs} epochs"
    return result


# --- main -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Training speed on a GPU: anyarray_nn (CuPy) vs PyTorch CUDA."
    )
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per case (>= 5)")
    parser.add_argument("--quick", action="store_true", help="two cases only")
    parser.add_argument("--data-dir", default=os.environ.get("ANYARRAY_NN_DATA"))
    parser.add_argument("--layers", nargs="+", default=None)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=None)
    parser.add_argument("--no-tf32", action="store_true", help="skip the TF32-on rows")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--no-accuracy", action="store_true", help="skip time to 98%%")
    parser.add_argument("--no-e2e", action="store_true", help="skip `anyarray-nn train`")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per child")
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds for everything; a child that would start with less than 20 s left is "
        "skipped (and reported as an error)",
    )
    parser.add_argument("--target", type=float, default=TARGET_ACCURACY, help="test accuracy")
    parser.add_argument("--accuracy-epochs", type=int, default=30, help="epochs to reach it")
    parser.add_argument(
        "--e2e-args", default="", help="arguments added to `anyarray-nn train --backend ...`"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tf32", choices=("on", "off"), default="off", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--accuracy-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="cupy", help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help="the whole flow on the CPU")
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    return parser


#: Children that would start with less than this many seconds of the budget left are skipped.
MIN_CHILD_SECONDS = 20.0


def stream_child(
    cmd: Sequence[str], env: dict[str, str], timeout: float, cwd: str | None = None
) -> dict[str, Any]:
    """Run ``cmd``, echoing its output line by line as it comes (never held back).

    At ``timeout`` the child gets SIGINT (so it can still write what it has), 10 s later
    SIGKILL.  Returns ``returncode``, ``seconds``, ``timed_out`` and the last output lines.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    timed_out = threading.Event()

    def interrupt() -> None:
        timed_out.set()
        proc.send_signal(signal.SIGINT)

    timers = [threading.Timer(timeout, interrupt), threading.Timer(timeout + 10, proc.kill)]
    for timer in timers:
        timer.daemon = True
        timer.start()
    tail: collections.deque[str] = collections.deque(maxlen=30)
    with proc:  # closes the pipe; on an exception (KeyboardInterrupt) the child is killed
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                tail.append(line.rstrip("\n"))
            returncode = proc.wait()
        finally:
            for timer in timers:
                timer.cancel()
            if proc.poll() is None:
                proc.kill()
    return {
        "returncode": returncode,
        "seconds": time.perf_counter() - t0,
        "timed_out": timed_out.is_set(),
        "output_tail": list(tail),
    }


def _run_json_child(cmd: list[str], env: dict[str, str], out: Path, timeout: float) -> dict:
    """Run a ``--child`` / ``--accuracy-child`` and read the JSON it wrote (or an error)."""
    run = stream_child(cmd, env, timeout)
    if run["timed_out"]:
        return {"error": f"timed out after {timeout:.0f} s: {' '.join(cmd[1:])}"}
    if run["returncode"] != 0 or not out.exists():
        tail = " | ".join(run["output_tail"][-5:])
        return {"error": f"exit status {run['returncode']}: {' '.join(cmd[1:])}: {tail}"}
    return json.loads(out.read_text())


def run_e2e(backend: str, extra: Sequence[str], timeout: float) -> dict[str, Any]:
    """``anyarray-nn train --backend BACKEND [extra]`` end to end, in a scratch folder."""
    args = ["--backend", backend, *extra]
    cmd = e2e_command(args)
    if cmd is None:
        return {"skipped": "CLI not available"}
    with tempfile.TemporaryDirectory(prefix="anyarray_nn_e2e_") as tmp:
        run = stream_child(cmd, dict(os.environ, CUPY_TF32="0"), timeout, cwd=tmp)
    result = {"command": " ".join(["anyarray-nn", "train", *args]), **run}
    if run["timed_out"] or run["returncode"] != 0:
        why = f"timed out after {timeout:.0f} s" if run["timed_out"] else "failed"
        result["error"] = f"`{result['command']}` {why} (exit status {run['returncode']})"
    return result


class Budget:
    """Seconds left of ``--budget`` (unlimited when None), and each child's time limit."""

    def __init__(self, seconds: float | None, per_child: float) -> None:
        self.end = None if seconds is None else time.perf_counter() + seconds
        self.per_child = per_child

    def child_timeout(self) -> float | None:
        """The next child's limit, or None when too little is left to start one."""
        if self.end is None:
            return self.per_child
        left = self.end - time.perf_counter()
        return min(self.per_child, left) if left >= MIN_CHILD_SECONDS else None


def write_results(args: argparse.Namespace, payload: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``<gpu>.json`` and ``<gpu>.md`` now (called after every child)."""
    name = gpu_slug(payload.get("gpu", {}).get("name") or "unknown-gpu")
    results = _as_results(payload.get("cases", []))
    meta = {k: v for k, v in payload.items() if k != "cases"}
    json_path = write_json(args.out_dir / f"{name}.json", results, **meta)
    md_path = args.out_dir / f"{name}.md"
    with atomic_write(md_path, "w", encoding="utf-8") as f:
        f.write(markdown_report(payload))
    return json_path, md_path


def _speed_children(args: argparse.Namespace, payload: dict, budget: Budget, tmp: Path) -> None:
    passthrough = passthrough_args(args)
    if args.dry_run:  # NumPy and torch on the CPU stand in for the GPU
        passthrough += ["--backend", "numpy"]
    for tf32 in (False,) if args.no_tf32 else (False, True):
        mode = "tf32 on" if tf32 else "tf32 off"
        timeout = budget.child_timeout()
        if timeout is None:
            payload["errors"].append(f"{mode}: skipped, the --budget is spent")
            continue
        out = tmp / f"tf32_{int(tf32)}.json"
        cmd, env = child_command(Path(__file__).resolve(), tf32, out, passthrough)
        print(f"measuring with TF32 {'on' if tf32 else 'off'} ...", flush=True)
        part = _run_json_child(cmd, env, out, timeout)
        if "error" in part:
            payload["errors"].append(f"{mode}: {part['error']}")
            print(part["error"], flush=True)
        else:
            payload["cases"] += part["cases"]
            payload["matmul_peak_gflops"][mode] = part["matmul_peak_gflops"]
            for key in ("gpu", "versions", "data", "data_load_seconds"):
                payload.setdefault(key, part[key])
        write_results(args, payload)


def _accuracy_child(args: argparse.Namespace, payload: dict, budget: Budget, tmp: Path) -> None:
    timeout = budget.child_timeout()
    if timeout is None:
        payload["errors"].append("time to accuracy: skipped, the --budget is spent")
        return
    out = tmp / "accuracy.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--accuracy-child"]
    cmd += ["--child-out", str(out), "--backend", "numpy" if args.dry_run else "cupy"]
    cmd += ["--target", str(args.target), "--accuracy-epochs", str(args.accuracy_epochs)]
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    print(f"time to {100 * args.target:.0f}% test accuracy ...", flush=True)
    t0 = time.perf_counter()
    tta = _run_json_child(cmd, dict(os.environ, CUPY_TF32="0"), out, timeout)
    if "seconds" in tta:
        tta["in_process_seconds"] = tta["seconds"]
        tta["seconds"] = time.perf_counter() - t0  # process start to target
    if "error" in tta:
        payload["errors"].append(f"time to accuracy: {tta['error']}")
    payload["time_to_accuracy"] = tta
    write_results(args, payload)


def _e2e(args: argparse.Namespace, payload: dict, budget: Budget) -> None:
    timeout = budget.child_timeout()
    if timeout is None:
        payload["errors"].append("anyarray-nn train: skipped, the --budget is spent")
        return
    print("anyarray-nn train end to end ...", flush=True)
    backend = "numpy" if args.dry_run else "cupy"
    payload["e2e"] = run_e2e(backend, args.e2e_args.split(), timeout)
    if "error" in payload["e2e"]:
        payload["errors"].append(payload["e2e"]["error"])
    write_results(args, payload)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child or args.accuracy_child:
        if args.accuracy_child:
            payload = time_to_accuracy(
                args.data_dir, args.backend, args.target, args.accuracy_epochs, args.limit
            )
        else:
            payload = run_child(args)
        assert args.child_out is not None
        args.child_out.write_text(json.dumps(payload, default=str))
        return 0

    ok, why = gpu_available()
    if not ok and not args.dry_run:
        print(f"no usable GPU: {why}; nothing measured")
        return 2
    payload: dict[str, Any] = {"suite": "gpu", "epochs": max(5, args.epochs), "cases": []}
    payload.update(learning_rate=LEARNING_RATE, matmul_peak_gflops={}, errors=[])
    if args.dry_run:
        payload["gpu"] = {"name": "dry run on numpy"}
    else:  # named here, so that every write goes to the same <gpu>.json / .md
        try:
            payload["gpu"] = gpu_info()
        except Exception as exc:
            payload["errors"].append(f"gpu_info: {type(exc).__name__}: {exc}")
    budget = Budget(args.budget, args.timeout)
    try:
        with tempfile.TemporaryDirectory(prefix="gpu_speed_") as tmp:
            _speed_children(args, payload, budget, Path(tmp))
            if not args.no_accuracy:
                _accuracy_child(args, payload, budget, Path(tmp))
        if not args.no_e2e:
            _e2e(args, payload, budget)
    except KeyboardInterrupt:  # SIGINT from the caller's time limit: keep what was measured
        payload["errors"].append("interrupted (SIGINT) before the end")
    if not payload["cases"]:
        payload["errors"].append("no case was measured")
    json_path, md_path = write_results(args, payload)
    print()
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {json_path} and {md_path}")
    return 0 if not payload["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
