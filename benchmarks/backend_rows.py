"""The torch and JAX rows of ``train_speed.py``: the library's backends and their references.

* ``anyarray_nn-torch``, ``anyarray_nn-jax``: a :class:`anyarray_nn.Network` on
  ``backend="torch"`` / ``"jax"`` (CPU), stepped by
  :func:`anyarray_nn.nn.steps.step_function` exactly as the training loop does (torch:
  the standard path under ``no_grad``; JAX: the ``jax.jit`` fast path), with one-hot
  targets gathered on the device like the batch iterator's;
* ``jax-jit``, ``jax-scan``: the hand-written JAX MLP of ``jax_mlp.py``;
* plain PyTorch eager is ``train_speed.py``'s own ``torch`` row.

Same initial weights, same batches (the same index slices of the same float array), same
learning rate as every other row. The targets: the library's JAX path within 1.25x of
``jax-jit``; the torch backend no slower than plain PyTorch eager (:func:`backend_ratios`).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from anyarray_nn import SGD, Network
from anyarray_nn.backend import from_numpy
from anyarray_nn.nn.steps import step_function

__all__ = ["BACKEND_IMPLS", "BackendStepRunner", "available", "backend_ratios", "make_runners"]

#: Rows this module adds, and the library each needs.
BACKEND_IMPLS = {
    "anyarray_nn-torch": "torch",
    "anyarray_nn-jax": "jax",
    "jax-jit": "jax",
    "jax-scan": "jax",
}

#: (ours, reference, target ratio ours / reference at most).
TARGETS = (("anyarray_nn-jax", "jax-jit", 1.25), ("anyarray_nn-torch", "torch", 1.0))


def available(impl: str) -> bool:
    """Whether the library that ``impl`` needs is installed."""
    return importlib.util.find_spec(BACKEND_IMPLS[impl]) is not None


class BackendStepRunner:
    """anyarray_nn on a torch or JAX backend, stepped as :func:`run_epoch` steps it."""

    def __init__(
        self, sizes: Sequence[int], dtype: str, backend: str, X: np.ndarray, y: np.ndarray,
        batch_size: int, learning_rate: float,
    ) -> None:  # fmt: skip
        self.name = f"anyarray_nn-{backend}"
        self.network = Network(list(sizes), dtype=dtype, backend=backend, seed=0)
        net = self.network
        self.X = from_numpy(X, net.backend)
        eye = np.eye(sizes[-1], dtype=dtype)
        self.Y = from_numpy(eye[y], net.backend)  # one-hot rows, as BatchIterator makes them
        self.batch_size = int(batch_size)
        self.step = step_function(net, SGD(learning_rate))
        self._block: Callable[[Any], Any] = lambda a: a
        if backend == "jax":
            import jax

            self._block = jax.block_until_ready

    def epoch(self, perm: np.ndarray) -> None:
        xp, b = self.network.xp, self.batch_size
        perm_dev = from_numpy(perm, self.network.backend)
        for start in range(0, perm.shape[0], b):
            idx = perm_dev[start : start + b]
            self.step(xp.take(self.X, idx, axis=0), xp.take(self.Y, idx, axis=0), 0.0)

    def timer(self, fn: Callable[[], None]) -> float:
        """Wall time of ``fn`` until its results exist (JAX dispatches asynchronously)."""
        t0 = time.perf_counter()
        fn()
        self._block(self.network.parameters)
        return time.perf_counter() - t0

    def weights(self) -> list[np.ndarray]:
        return self.network.get_weights()[0]


def make_runners(
    impls: Sequence[str],
    sizes: Sequence[int],
    dtype: str,
    W0: Sequence[np.ndarray],
    b0: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    learning_rate: float,
) -> list[Any]:
    """The runners of the rows in ``impls`` that this module adds (all from ``W0``, ``b0``)."""
    runners: list[Any] = []
    for impl in impls:
        if impl not in BACKEND_IMPLS:
            continue
        if impl.startswith("anyarray_nn-"):
            backend = impl.split("-", 1)[1]
            runner = BackendStepRunner(sizes, dtype, backend, X, y, batch_size, learning_rate)
            runners.append(runner)
        else:
            import jax_mlp

            cls = jax_mlp.JaxStepRunner if impl == "jax-jit" else jax_mlp.JaxScanRunner
            runners.append(cls(W0, b0, X, y, batch_size, learning_rate))
    return runners


def backend_ratios(results: Sequence[Any]) -> list[str]:
    """One line per target: ``ours / reference`` per case, and whether the target is met."""
    seconds = {(r.key, r.impl): r.seconds_per_epoch for r in results}
    keys = list(dict.fromkeys(r.key for r in results))
    lines = []
    for ours, ref, target in TARGETS:
        for key in keys:
            if (key, ours) in seconds and (key, ref) in seconds:
                ratio = seconds[key, ours] / seconds[key, ref]
                verdict = "met" if ratio <= target else "NOT met"
                lines.append(f"{ours} / {ref} {key}: {ratio:.2f} (target <= {target}: {verdict})")
    return lines
