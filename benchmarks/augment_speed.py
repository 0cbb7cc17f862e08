"""What augmentation adds to a training epoch, as ratios measured in one run (CPU or GPU).

Cases (each an epoch of Adam steps over ``--n`` training images at batch 128, float32; the
rows of a group alternate, epoch by epoch, so that a change in the machine's load hits them
alike; each row is the median of ``--repeats`` epochs after a warm-up):

* ``784-64-10`` (the default network): no augmentation; one-pixel shifts as they are done
  now (:class:`~anyarray_nn.data.augment.ShiftedRows`, one row gather); the same shifts
  the old way (:func:`~anyarray_nn.data.augment.shift_images`, a gather per pixel).
  Target: shifts add at most 20%.
* ``784-800-10``: no augmentation; elastic distortions (``simard``); elastic + affine
  (``ciresan``).  Target: elastic adds at most 50%.

``ratio`` is the row's epoch time over its group's first row.  BLAS threads matter on a
shared machine: set ``OPENBLAS_NUM_THREADS`` (recorded in the output) to compare.

Run::

    ANYARRAY_NN_DATA=/path/to/mnist python benchmarks/augment_speed.py [--n 20000]
        [--repeats 5] [--backend numpy] [--json results.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyarray_nn import files
from anyarray_nn.backend import is_cupy, resolve_backend
from anyarray_nn.data.batches import BatchIterator
from anyarray_nn.data.distortions import DISTORTION_PRESETS
from anyarray_nn.nn.network import Network
from anyarray_nn.nn.optimizers import get_optimizer

#: (group, row name, network sizes, BatchIterator options, old per-pixel shift path)
CASES: list[tuple[str, str, list[int], dict[str, Any], bool]] = [
    ("784-64-10", "none", [784, 64, 10], {}, False),
    ("784-64-10", "shift 1 (row gather)", [784, 64, 10], {"max_shift": 1}, False),
    ("784-64-10", "shift 1 (old: per-pixel gather)", [784, 64, 10], {"max_shift": 1}, True),
    ("784-800-10", "none", [784, 800, 10], {}, False),
    ("784-800-10", "elastic (simard)", [784, 800, 10], {"distortions": "simard"}, False),
    ("784-800-10", "elastic+affine (ciresan)", [784, 800, 10], {"distortions": "ciresan"}, False),
]


def load_images(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``n`` MNIST training images (or random ones of MNIST's size, said so)."""
    try:
        from anyarray_nn.data import load_mnist

        mnist = load_mnist(download=False)
        return mnist.train_images[:n], mnist.train_labels[:n], "MNIST"
    except Exception as exc:  # benchmark: any failure falls back to synthetic data
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        return images, rng.integers(0, 10, size=n), f"SYNTHETIC ({type(exc).__name__})"


def make_case(case: tuple, images: np.ndarray, labels: np.ndarray, backend: Any) -> tuple:
    """A network, an optimiser and a batch iterator for one row."""
    _, _, sizes, options, old_shift = case
    options = dict(options)
    if "distortions" in options:
        options["distortions"] = DISTORTION_PRESETS[options["distortions"]]
    net = Network(sizes, seed=0, backend=backend)
    batches = BatchIterator(images, labels, batch_size=128, seed=0, backend=backend, **options)
    if old_shift:
        batches._shifted = None  # the per-pixel path of shift_images (the old way)
    return net, get_optimizer("adam", 1e-3), batches


def epoch_seconds(net: Network, optimizer: Any, batches: BatchIterator) -> float:
    """Wall time of one epoch of training steps (device synchronised on CuPy)."""
    t0 = time.perf_counter()
    for X, Y in batches:
        net.apply_gradients(optimizer, net.backprop(X, Y, 0.0))
    if is_cupy(net.xp):
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    return time.perf_counter() - t0


def measure(n: int, repeats: int, backend_name: str) -> tuple[list[dict[str, Any]], str]:
    """Every case's median epoch time and its ratio to its group's first row."""
    images, labels, source = load_images(n)
    backend = resolve_backend(backend_name)
    rows: list[dict[str, Any]] = []
    for group in dict.fromkeys(c[0] for c in CASES):
        cases = [c for c in CASES if c[0] == group]
        made = [make_case(c, images, labels, backend) for c in cases]
        times: list[list[float]] = [[] for _ in cases]
        for r in range(repeats + 1):  # round 0 warms up
            for i, (net, opt, batches) in enumerate(made):
                seconds = epoch_seconds(net, opt, batches)
                if r:
                    times[i].append(seconds)
        base = statistics.median(times[0])
        for case, t in zip(cases, times, strict=True):
            median = statistics.median(t)
            rows.append({"network": group, "augmentation": case[1], "seconds": median,
                         "ratio": median / base})  # fmt: skip
    return rows, source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="training images per epoch")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per row")
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows, source = measure(args.n, args.repeats, args.backend)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")
    print(f"data: {source}, n={args.n}, batch 128, float32, backend {args.backend}, "
          f"OPENBLAS_NUM_THREADS={threads}, median of {args.repeats} epochs")  # fmt: skip
    print("| network | augmentation | s/epoch | ratio |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['network']} | {row['augmentation']} | {row['seconds']:.3f} "
              f"| {row['ratio']:.2f} |")  # fmt: skip
    if args.json is not None:
        files.write_json(args.json, {"rows": rows, "data": source, "threads": threads})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
