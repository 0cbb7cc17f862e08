"""Optimisers: plain gradient descent (the essay's), momentum, and Adam.

Each optimiser's update is a pure function, :meth:`Optimizer.update`, from (parameters,
gradients, state) to new (parameters, state), written against the Array API standard: it
never writes to an array, so it works on libraries whose arrays cannot be mutated (JAX) and
leaves its inputs alone. :meth:`Optimizer.update_in_place` is the same arithmetic written
with in-place operators (``W -= ...``), which saves a new array per parameter and per step;
:meth:`Optimizer.step` takes it only where every array it would write is writeable
(``array_api_compat.is_writeable_array``) and is tested against the pure form. Whoever calls
:meth:`Optimizer.step` stores the parameters it returns: the network does.

Hyper-parameters are Python floats so that float32 stays float32. Weight decay (L2) is *not*
applied here: :class:`~anyarray_nn.nn.network.Network` adds it to the gradient, so every
optimiser sees the same regularised cost.

Labels in brackets, such as ``[Adam]``, name equations that the essay does not number (see
``docs/math.md``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import array_api_compat

Array = Any

__all__ = ["OPTIMIZERS", "SGD", "Adam", "Momentum", "Optimizer", "get_optimizer"]


class Optimizer:
    """Base class of the optimisers.

    Parameters
    ----------
    learning_rate : float
        Step size ``eta``; can be changed between steps (e.g. by a schedule) by assigning
        ``optimizer.learning_rate``.

    Attributes
    ----------
    state : list of arrays
        Velocities or moments, one or two per parameter (empty before the first step and
        for plain gradient descent).
    steps : int
        Number of steps taken.
    """

    name = "optimizer"
    #: State arrays kept per parameter (velocities, moments).
    slots = 0

    def __init__(self, learning_rate: float) -> None:
        learning_rate = float(learning_rate)
        if not math.isfinite(learning_rate) or learning_rate <= 0.0:
            raise ValueError(f"learning_rate must be a positive number, not {learning_rate!r}")
        self.learning_rate = learning_rate
        self.state: list[Array] = []
        self.steps = 0

    # --- the update, pure and in place ---------------------------------------------------

    def step_size(self, t: int) -> float:
        """The step size of step ``t``: ``learning_rate`` (Adam folds its bias corrections in).

        The updates read the learning rate only through this method, so that a compiled step
        (:mod:`anyarray_nn.nn.jax_step`) can pass it in as a value instead of a constant.
        """
        return self.learning_rate

    def init_state(self, xp: ModuleType, params: Sequence[Array]) -> list[Array]:
        """Zero state for ``params``: ``slots`` arrays per parameter, slot by slot."""
        return [
            xp.zeros(p.shape, dtype=p.dtype, device=array_api_compat.device(p))
            for _ in range(self.slots)
            for p in params
        ]

    def update(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> tuple[list[Array], list[Array]]:
        """New ``(params, state)`` after step number ``t`` (1 for the first step).

        Pure: reads its arguments and the hyper-parameters, writes to no array.

        Parameters
        ----------
        xp : module
            The array namespace of ``params``.
        params, grads : sequences of arrays
            ``grads[i]`` has the shape and dtype of ``params[i]``.
        state : sequence of arrays
            ``slots * len(params)`` arrays, as :meth:`init_state` makes them.
        t : int
            The number of this step, counting from 1.

        Returns
        -------
        (list of arrays, list of arrays)
            The new parameters and the new state, in the same order.
        """
        raise NotImplementedError

    def update_in_place(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> None:
        """The same step as :meth:`update`, written into ``params`` and ``state``.

        Only for writeable arrays; the results equal :meth:`update`'s bit for bit.
        """
        raise NotImplementedError

    def step(self, xp: ModuleType, params: Sequence[Array], grads: Sequence[Array]) -> list[Array]:
        """One step: returns the new parameters and keeps the new state and step count.

        The caller stores the returned parameters (they are ``params`` themselves, updated in
        place, where every parameter and state array is writeable).
        """
        if not self.state:
            self.state = self.init_state(xp, params)
        t = self.steps + 1
        if all(array_api_compat.is_writeable_array(a) for a in (*params, *self.state)):
            self.update_in_place(xp, params, grads, self.state, t)
            new_params = list(params)
        else:
            new_params, self.state = self.update(xp, params, grads, self.state, t)
        self.steps = t
        return new_params

    # --- description and checkpoints ----------------------------------------------------

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


class SGD(Optimizer):
    """Plain mini-batch gradient descent: ``W <- W - eta dW`` ([GD]), the essay's update."""

    name = "sgd"

    def update(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> tuple[list[Array], list[Array]]:
        lr = self.step_size(t)
        return [p - lr * g for p, g in zip(params, grads, strict=True)], []  # [GD]

    def update_in_place(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> None:
        lr = self.step_size(t)
        for p, g in zip(params, grads, strict=True):
            p -= lr * g


class Momentum(Optimizer):
    """Gradient descent with (heavy-ball) momentum ([Momentum]):
    ``v <- mu v - eta dW;  W <- W + v``.

    Notes
    -----
    The velocity stores the step, ``eta dW`` included. ``torch.optim.SGD(momentum=mu)``
    stores the gradients instead (``b <- mu b + dW;  W <- W - eta b``). With a constant
    ``eta`` both give the same weights (``v = -eta b``); when a schedule changes ``eta``, here
    the new rate applies to new gradients only and the velocity carries the old steps, so the
    effective step changes gradually, while PyTorch rescales the whole accumulated velocity
    at once.
    """

    name = "momentum"
    slots = 1

    def __init__(self, learning_rate: float, momentum: float = 0.9) -> None:
        super().__init__(learning_rate)
        momentum = float(momentum)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), not {momentum!r}")
        self.momentum = momentum

    def update(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> tuple[list[Array], list[Array]]:
        lr, mu = self.step_size(t), self.momentum
        velocities = [mu * v - lr * g for g, v in zip(grads, state, strict=True)]  # [Momentum]
        return [p + v for p, v in zip(params, velocities, strict=True)], velocities

    def update_in_place(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> None:
        lr, mu = self.step_size(t), self.momentum
        for p, g, v in zip(params, grads, state, strict=True):
            v *= mu
            v -= lr * g
            p += v

    def config(self) -> dict[str, float | str]:
        return {**super().config(), "momentum": self.momentum}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size ([Adam]).

    ``m <- b1 m + (1 - b1) dW;  v <- b2 v + (1 - b2) dW^2;
    W <- W - eta_t m / (sqrt(v) + eps)`` with ``eta_t = eta sqrt(1 - b2^t) / (1 - b1^t)``.
    The state holds the first moments of every parameter, then the second moments.

    Notes
    -----
    Epsilon is added to ``sqrt(v)`` *before* the bias correction of ``v``, which is folded
    into ``eta_t`` (the form of Kingma & Ba's section 2). ``torch.optim.Adam`` adds it after:
    ``W <- W - eta m_hat / (sqrt(v_hat) + eps)``, that is ``eps`` here equals PyTorch's
    ``eps * sqrt(1 - b2^t)``. The two differ only while ``sqrt(v)`` is near ``eps``; to
    compare with PyTorch early in training, take a small ``epsilon`` (e.g. 1e-12 on both).
    """

    name = "adam"
    slots = 2

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

    def step_size(self, t: int) -> float:
        """``eta_t``: the learning rate with both bias corrections, a Python float."""
        b1, b2 = self.beta1, self.beta2
        return self.learning_rate * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)

    def update(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> tuple[list[Array], list[Array]]:
        n, b1, b2, eps = len(params), self.beta1, self.beta2, self.epsilon
        eta_t = self.step_size(t)
        first = [b1 * m + (1.0 - b1) * g for g, m in zip(grads, state[:n], strict=True)]
        second = [b2 * v + (1.0 - b2) * (g * g) for g, v in zip(grads, state[n:], strict=True)]
        new_params = [
            p - eta_t * (m / (xp.sqrt(v) + eps))
            for p, m, v in zip(params, first, second, strict=True)
        ]
        return new_params, first + second

    def update_in_place(
        self,
        xp: ModuleType,
        params: Sequence[Array],
        grads: Sequence[Array],
        state: Sequence[Array],
        t: int,
    ) -> None:
        n, b1, b2, eps = len(params), self.beta1, self.beta2, self.epsilon
        eta_t = self.step_size(t)
        for p, g, m, v in zip(params, grads, state[:n], state[n:], strict=True):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= eta_t * (m / (xp.sqrt(v) + eps))

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
