"""Optimisers: plain gradient descent (the paper's), momentum, and Adam.

An optimiser updates a list of parameter arrays in place from a list of gradients of the
same shapes.  In-place updates (``W -= ...``) are part of the Array API standard and avoid a
new weight array per step.  Hyper-parameters are Python floats so that float32 stays float32.

Weight decay (L2 regularisation) is *not* applied here: :class:`~anyarray_nn.nn.network.Network`
adds it to the gradient, so every optimiser sees the same regularised cost.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

Array = Any

__all__ = ["OPTIMIZERS", "SGD", "Adam", "Momentum", "Optimizer", "get_optimizer"]


class Optimizer:
    """Base class: ``step(xp, params, grads)`` updates ``params`` in place.

    Parameters
    ----------
    learning_rate : float
        Step size ``eta`` (eq. 10 in ``docs/math.md``); can be changed between steps (e.g. by
        a schedule) by assigning ``optimizer.learning_rate``.
    """

    name = "optimizer"

    def __init__(self, learning_rate: float) -> None:
        learning_rate = float(learning_rate)
        if not math.isfinite(learning_rate) or learning_rate <= 0.0:
            raise ValueError(f"learning_rate must be a positive number, not {learning_rate!r}")
        self.learning_rate = learning_rate
        self.state: list[Array] = []
        self.steps = 0

    def step(self, xp: ModuleType, params: list[Array], grads: list[Array]) -> None:
        """Update ``params[i]`` in place from ``grads[i]``."""
        raise NotImplementedError

    def config(self) -> dict[str, float | str]:
        """Hyper-parameters as JSON-ready values."""
        return {"name": self.name, "learning_rate": self.learning_rate}

    def state_arrays(self) -> list[Array]:
        """The optimiser's state (velocities, moments) for checkpoints."""
        return list(self.state)

    def load_state(self, arrays: list[Array], steps: int) -> None:
        """Restore what :meth:`state_arrays` returned and the step count."""
        self.state = list(arrays)
        self.steps = int(steps)

    def _zeros_like(self, xp: ModuleType, params: list[Array]) -> list[Array]:
        return [xp.zeros(p.shape, dtype=p.dtype, device=p.device) for p in params]


class SGD(Optimizer):
    """Plain mini-batch gradient descent: ``W <- W - eta dW`` (eq. 10)."""

    name = "sgd"

    def step(self, xp: ModuleType, params: list[Array], grads: list[Array]) -> None:
        lr = self.learning_rate
        for p, g in zip(params, grads, strict=True):
            p -= lr * g
        self.steps += 1


class Momentum(Optimizer):
    """Gradient descent with (heavy-ball) momentum: ``v <- mu v - eta dW; W <- W + v``."""

    name = "momentum"

    def __init__(self, learning_rate: float, momentum: float = 0.9) -> None:
        super().__init__(learning_rate)
        momentum = float(momentum)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), not {momentum!r}")
        self.momentum = momentum

    def step(self, xp: ModuleType, params: list[Array], grads: list[Array]) -> None:
        if not self.state:
            self.state = self._zeros_like(xp, params)
        lr, mu = self.learning_rate, self.momentum
        for p, g, v in zip(params, grads, self.state, strict=True):
            v *= mu
            v -= lr * g
            p += v
        self.steps += 1

    def config(self) -> dict[str, float | str]:
        return {**super().config(), "momentum": self.momentum}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size."""

    name = "adam"

    def __init__(
        self,
        learning_rate: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        for label, beta in (("beta1", self.beta1), ("beta2", self.beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{label} must be in [0, 1), not {beta!r}")

    def step(self, xp: ModuleType, params: list[Array], grads: list[Array]) -> None:
        n = len(params)
        if not self.state:
            self.state = self._zeros_like(xp, params) + self._zeros_like(xp, params)
        self.steps += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.learning_rate * math.sqrt(1.0 - b2**self.steps) / (1.0 - b1**self.steps)
        for i in range(n):
            p, g, m, v = params[i], grads[i], self.state[i], self.state[n + i]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= step_size * (m / (xp.sqrt(v) + self.epsilon))

    def config(self) -> dict[str, float | str]:
        return {
            **super().config(),
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
        }


OPTIMIZERS = ("sgd", "momentum", "adam")


def get_optimizer(name: str | Optimizer, learning_rate: float, **kwargs: float) -> Optimizer:
    """Build an optimiser by name (``"sgd"``, ``"momentum"``, ``"adam"``)."""
    if isinstance(name, Optimizer):
        return name
    key = str(name).lower()
    if key in ("sgd", "gd"):
        return SGD(learning_rate)
    if key == "momentum":
        return Momentum(learning_rate, **kwargs)
    if key == "adam":
        return Adam(learning_rate, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
