"""What the training loop costs around the step, per backend, as ratios measured in one run.

For each backend, two ways to run ``train`` on the same images (784-64-10, the default
recipe's Adam and batch 128, float32, one thread):

* ``step only``: no shifts, no per-layer diagnostics (the step, batching, cost and hits);
* ``default recipe``: one-pixel random shifts and the per-layer diagnostics, as
  ``anyarray-nn train`` runs by default.

Each cell is the median seconds per epoch after the first (which includes JAX's
compilation); ``ratio`` is the cell over NumPy's in the same column.  The machine may be
shared: compare ratios within one run, not seconds across runs.

Run::

    ANYARRAY_NN_DATA=/path/to/mnist python benchmarks/loop_speed.py [--n 20000]
        [--epochs 5] [--backends numpy torch jax] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyarray_nn import Network
from anyarray_nn.backend import BackendUnavailableError, resolve_backend
from anyarray_nn.libraries import limit_threads
from anyarray_nn.training import MNIST_RECIPE, train

#: (column, max_shift, diagnostics)
CASES = (("step only", 0, False), ("default recipe", 1, True))
#: backend name -> device on the CPU
CPU_DEVICES = {"numpy": None, "torch": "cpu", "jax": "cpu", "array_api_strict": None}


def seconds_per_epoch(
    backend: str, images: np.ndarray, labels: np.ndarray, epochs: int
) -> list[float]:
    """Median seconds per epoch after the first, for each of :data:`CASES`."""
    result = []
    for _, shift, diagnostics in CASES:
        net = Network([784, 64, 10], backend=backend, device=CPU_DEVICES.get(backend), seed=0)
        config = replace(MNIST_RECIPE, epochs=epochs, max_shift=shift)
        history = train(net, images, labels, config=config, diagnostics=diagnostics, progress=False)
        later = [r.seconds for r in history.records[1:]] or [history.records[0].seconds]
        result.append(statistics.median(later))
    return result


def table(rows: dict[str, list[float]]) -> str:
    """Markdown: seconds per epoch and the ratio to NumPy's in the same column."""
    lines = [
        "| backend | step only (s) | ratio | default recipe (s) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    base = rows.get("numpy")
    for name, cells in rows.items():
        parts = []
        for i, s in enumerate(cells):
            ratio = f"{s / base[i]:.2f}" if base else "-"
            parts += [f"{s:.3f}", ratio]
        lines.append(f"| {name} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def _images(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    if args.synthetic:
        rng = np.random.default_rng(0)
        return (
            rng.integers(0, 256, (args.n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, args.n).astype(np.uint8),
        )
    from anyarray_nn.data import load_mnist

    mnist = load_mnist()
    return mnist.train_images[: args.n], mnist.train_labels[: args.n]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="training images")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["numpy", "torch", "jax"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--synthetic", action="store_true", help="random images (tests)")
    args = parser.parse_args(argv)
    if args.threads:
        limit_threads(args.threads)
    images, labels = _images(args)
    rows: dict[str, list[float]] = {}
    for name in args.backends:
        try:
            resolve_backend(name, CPU_DEVICES.get(name))
        except BackendUnavailableError as exc:
            print(f"skipping {name}: {exc}")
            continue
        rows[name] = seconds_per_epoch(name, images, labels, args.epochs)
    print(f"seconds per epoch over {args.n} images, {args.threads} thread(s):")
    print(table(rows))
    return {"n": args.n, "threads": args.threads, "rows": rows}


if __name__ == "__main__":
    main()
