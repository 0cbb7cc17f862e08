"""A hand-written JAX MLP, the reference of the JAX backend in ``train_speed.py``.

The same network as the other rows (ReLU hidden layers, softmax + cross-entropy, plain SGD),
the same initial weights, the same batches, written the way a JAX user would: gradients by
``jax.grad``, and either

* ``JaxStepRunner`` ("jax-jit"): a ``jax.jit`` step in a Python loop, the batch gathered
  eagerly (``jnp.take``) as the library's loop does, or
* ``JaxScanRunner`` ("jax-scan"): a whole epoch compiled with ``lax.scan`` over the
  epoch's full batches (the final partial batch, if any, by the jit step).

Only the benchmark imports JAX here; ``import jax_mlp`` fails cleanly when it is missing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["JaxScanRunner", "JaxStepRunner"]


def _loss(params: list[tuple[Any, Any]], X: Any, y: Any) -> Any:
    A = X
    for W, b in params[:-1]:
        A = jax.nn.relu(A @ W.T + b)
    W, b = params[-1]
    logits = A @ W.T + b
    log_p = jax.nn.log_softmax(logits, axis=1)
    return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))


def _make_step(learning_rate: float) -> Any:
    @jax.jit
    def step(params: list[tuple[Any, Any]], X: Any, y: Any) -> list[tuple[Any, Any]]:
        grads = jax.grad(_loss)(params, X, y)
        return jax.tree_util.tree_map(lambda p, g: p - learning_rate * g, params, grads)

    return step


class JaxStepRunner:
    """``jax.jit`` step in a Python loop (the batch gathered outside the step)."""

    name = "jax-jit"

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        learning_rate: float,
    ) -> None:
        self.params = [
            (jnp.asarray(W), jnp.asarray(b)) for W, b in zip(weights, biases, strict=True)
        ]
        self.X, self.y = jnp.asarray(X), jnp.asarray(y)
        self.batch_size = int(batch_size)
        self.step = _make_step(float(learning_rate))

    def epoch(self, perm: np.ndarray) -> None:
        perm_dev = jnp.asarray(perm)
        X, y, b, params = self.X, self.y, self.batch_size, self.params
        for start in range(0, perm.shape[0], b):
            idx = perm_dev[start : start + b]
            params = self.step(params, jnp.take(X, idx, axis=0), jnp.take(y, idx, axis=0))
        self.params = params

    def timer(self, fn: Any) -> float:
        """Wall time of ``fn`` until its results exist (JAX dispatches asynchronously)."""
        t0 = time.perf_counter()
        fn()
        jax.block_until_ready(self.params)
        return time.perf_counter() - t0

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(W) for W, _ in self.params]


class JaxScanRunner(JaxStepRunner):
    """A whole epoch in one ``jax.jit`` call: ``lax.scan`` over the full batches."""

    name = "jax-scan"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        step = self.step

        @jax.jit
        def epoch(params: Any, X: Any, y: Any, batches: Any) -> Any:
            def body(p: Any, idx: Any) -> tuple[Any, None]:
                return step(p, jnp.take(X, idx, axis=0), jnp.take(y, idx, axis=0)), None

            return jax.lax.scan(body, params, batches)[0]

        self.scan_epoch = epoch

    def epoch(self, perm: np.ndarray) -> None:
        b = self.batch_size
        full = perm.shape[0] // b * b
        batches = jnp.asarray(perm[:full].reshape(-1, b))
        params = self.scan_epoch(self.params, self.X, self.y, batches)
        if full < perm.shape[0]:
            idx = jnp.asarray(perm[full:])
            params = self.step(params, jnp.take(self.X, idx, axis=0), jnp.take(self.y, idx, axis=0))
        self.params = params
