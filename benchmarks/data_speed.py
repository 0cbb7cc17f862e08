"""Data pipeline speed: MNIST load time and the per-epoch cost of batching alone.

Measures, over the 60,000 MNIST training images (float32, shuffled, no network):

* the time to load MNIST with :func:`anyarray_nn.data.load_mnist` (falls back to random
  uint8 data of MNIST's size, and says so, when the loader or the files are missing);
* one epoch of :class:`~anyarray_nn.data.BatchIterator` (resident), streamed (a memory
  budget of a quarter of the data set), with ``max_shift=1`` augmentation, and a plain
  NumPy fancy-indexing loop as the reference, at batch sizes 128 and 1024.

Each row is the median of ``--epochs`` (>= 5) epochs after one warm-up epoch; ``ratio``
is the row's time over the NumPy reference at the same batch size.  With
``--backend cupy`` the device is synchronised before each timer stops.

Run::

    ANYARRAY_NN_DATA=/path/to/mnist python benchmarks/data_speed.py [--backend numpy]
        [--data-dir DIR] [--epochs 5] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyarray_nn.backend import Backend, is_cupy, resolve_backend
from anyarray_nn.data.batches import BatchIterator

N_TRAIN = 60_000


def load_data(data_dir: str | None) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Training images ``(60000, 28, 28)`` uint8, labels, load seconds and the source."""
    try:
        from anyarray_nn.data import load_mnist
    except ImportError as exc:
        reason = f"anyarray_nn.data.load_mnist not importable ({exc})"
    else:
        t0 = time.perf_counter()
        try:
            mnist = load_mnist(data_dir, download=False)  # never touch the network here
        except Exception as exc:
            reason = f"load_mnist failed: {type(exc).__name__}: {exc}"
        else:
            images, labels = mnist.train_images, mnist.train_labels
            seconds = time.perf_counter() - t0
            return images, labels, seconds, f"MNIST via load_mnist from {mnist.source}"
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    images = rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=N_TRAIN).astype(np.int64)
    seconds = time.perf_counter() - t0
    return images, labels, seconds, f"SYNTHETIC random uint8 of MNIST size: {reason}"


def _sync(backend: Backend) -> None:
    if is_cupy(backend.xp):
        import cupy

        cupy.cuda.get_current_stream().synchronize()


def _numpy_reference(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int):
    """The plain loop: fancy indexing, reshape, astype, divide; one-hot via ``eye``."""
    rng = np.random.default_rng(seed)
    eye = np.eye(10, dtype=np.float32)
    n = images.shape[0]

    def epoch() -> Iterable[tuple[np.ndarray, np.ndarray]]:
        perm = rng.permutation(n)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            X = images[idx].reshape(idx.shape[0], -1).astype(np.float32) / 255
            Y = eye[labels[idx]]
            yield X, Y

    return epoch


def time_epochs(make_epoch: Callable[[], Iterable[Any]], backend: Backend, epochs: int) -> float:
    """Median seconds of ``epochs`` full passes, after one warm-up pass."""
    times = []
    for k in range(epochs + 1):
        _sync(backend)
        t0 = time.perf_counter()
        for _batch in make_epoch():
            pass
        _sync(backend)
        if k:  # k == 0 is the warm-up
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy (default), cupy, ...")
    parser.add_argument("--data-dir", default=os.environ.get("ANYARRAY_NN_DATA"))
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (>= 5)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)
    epochs = max(5, args.epochs)

    images, labels, load_s, source = load_data(args.data_dir)
    images, labels = images[:N_TRAIN], labels[:N_TRAIN]
    backend = resolve_backend(args.backend)
    print(f"data: {source}")
    print(f"load time: {load_s:.3f} s   images {images.shape} {images.dtype}")
    print(f"backend: {backend!r}   epochs: median of {epochs} after 1 warm-up")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs")

    rows = []
    header = f"{'batching (one epoch, float32)':<40} {'batch':>6} {'s/epoch':>9} {'ratio':>7}"
    print()
    print(header)
    print("-" * len(header))
    budget = images.nbytes // 4
    for b in args.batch_sizes:
        ref_s = time_epochs(
            _numpy_reference(images, labels, b, 0), resolve_backend("numpy"), epochs
        )
        cases: list[tuple[str, Callable[[], Iterable[Any]]]] = [
            ("numpy fancy-indexing loop (reference)", _numpy_reference(images, labels, b, 0)),
            (
                f"BatchIterator ({backend.name})",
                BatchIterator(images, labels, batch_size=b, backend=backend, seed=0).__iter__,
            ),
            (
                f"BatchIterator ({backend.name}, streamed)",
                BatchIterator(
                    images, labels, batch_size=b, backend=backend, seed=0, memory_budget=budget
                ).__iter__,
            ),
            (
                f"BatchIterator ({backend.name}, max_shift=1)",
                BatchIterator(
                    images, labels, batch_size=b, backend=backend, seed=0, max_shift=1
                ).__iter__,
            ),
        ]
        for name, make in cases:
            numpy_timer = name.startswith("numpy")
            s = ref_s if numpy_timer else time_epochs(make, backend, epochs)
            rows.append({"case": name, "batch_size": b, "seconds": s, "ratio": s / ref_s})
            print(f"{name:<40} {b:>6} {s:>9.4f} {s / ref_s:>7.2f}")
    result = {
        "data": source,
        "load_seconds": load_s,
        "backend": backend.name,
        "epochs": epochs,
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "rows": rows,
    }
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")
    return result


if __name__ == "__main__":
    main()
