"""JAX fast path: the training step (forward, back-propagation, optimiser) under ``jax.jit``.

Beside the standard path, behind ``array_api_compat.is_jax_namespace(xp)``
(:func:`anyarray_nn.nn.steps.step_function` chooses it). Nothing here is new math: the
compiled function calls the same :func:`~anyarray_nn.nn.propagation.backprop` and the same
pure :meth:`~anyarray_nn.nn.optimizers.Optimizer.update` as the standard path, traced once
with the parameters and the optimiser state as pytrees (lists of arrays). Only the learning
rate (through :meth:`~anyarray_nn.nn.optimizers.Optimizer.step_size`) and the step number
are passed in as values; the architecture, the optimiser's other hyper-parameters and the
weight decay are static, so a change of any of them compiles a new step. Results equal the
standard path within float32 rounding (``tests/test_jax_step.py``).

Without ``jax_enable_x64`` a Python float passed in is a weakly typed float32 scalar, and
with it a weakly typed float64 one: either way a float32 network stays float32.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import jax

from . import propagation
from .activations import Activation
from .costs import Cost
from .gradients import Gradients
from .optimizers import SGD, Adam, Momentum, Optimizer

if TYPE_CHECKING:
    from .network import Network
    from .steps import Step

__all__ = ["jax_step"]

Array = Any

#: The optimisers whose hyper-parameters rebuild them (``config()``); others run uncompiled.
_COMPILABLE = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


@dataclass(frozen=True)
class _Static:
    """Everything the compiled step depends on besides arrays (hashable: jit's cache key)."""

    xp: ModuleType
    n_layers: int
    hidden_activation: Activation
    output_activation: Activation
    cost_function: Cost
    optimizer: tuple[tuple[str, Any], ...]  # config() without the learning rate
    weight_decay: float


@dataclass
class _View:
    """What :mod:`~anyarray_nn.nn.propagation` reads of a network, holding traced arrays."""

    xp: ModuleType
    n_layers: int
    hidden_activation: Activation
    output_activation: Activation
    cost_function: Cost
    weights: list[Array]
    biases: list[Array]


@functools.partial(jax.jit, static_argnums=0)
def _compiled_step(
    static: _Static, params: list[Array], state: list[Array], X: Array, Y: Array, eta: Any, t: Any
) -> tuple[list[Array], list[Array], tuple[Any, ...]]:
    """One step, pure: new parameters, new state, and what the epoch measures."""
    n = static.n_layers
    view = _View(
        static.xp,
        n,
        static.hidden_activation,
        static.output_activation,
        static.cost_function,
        list(params[:n]),
        list(params[n:]),
    )
    grads = propagation.backprop(view, X, Y, static.weight_decay)  # type: ignore[arg-type]
    hyper = dict(static.optimizer)
    optimizer = _COMPILABLE[str(hyper.pop("name"))](1.0, **hyper)
    # The traced step size replaces the Python float the update would read.
    optimizer.step_size = lambda _t: eta  # type: ignore[method-assign]
    new_params, new_state = optimizer.update(static.xp, params, [*grads.dW, *grads.db], state, t)
    measured = (grads.dW, grads.db, grads.deltas, grads.activations[1:], grads.cost)
    return new_params, new_state, measured


def jax_step(network: Network, optimizer: Optimizer) -> Step | None:
    """The compiled step of ``network`` and ``optimizer``, or ``None`` for an optimiser that
    is not one of the library's (it runs on the standard path).

    The returned ``step(X, Y, weight_decay)`` stores the new parameters in the network and
    the new state and step count in the optimiser, exactly as
    :meth:`Network.apply_gradients` and :meth:`Optimizer.step` do, and returns the batch's
    :class:`Gradients`.
    """
    if type(optimizer) is not _COMPILABLE.get(optimizer.name):
        return None

    def step(X: Array, Y: Array, weight_decay: float) -> Gradients:
        hyper = tuple((k, v) for k, v in optimizer.config().items() if k != "learning_rate")
        static = _Static(
            network.xp,
            network.n_layers,
            network.hidden_activation,
            network.output_activation,
            network.cost_function,
            hyper,
            float(weight_decay),
        )
        if not optimizer.state:
            optimizer.state = optimizer.init_state(network.xp, network.parameters)
        t = optimizer.steps + 1
        eta = optimizer.step_size(t)  # a Python float, computed as the standard path does
        params, state, measured = _compiled_step(
            static, network.parameters, optimizer.state, X, Y, eta, t
        )
        n = network.n_layers
        # What Network.apply_gradients stores: the optimiser's new parameters.
        network.weights, network.biases = list(params[:n]), list(params[n:])
        optimizer.state, optimizer.steps = list(state), t
        dW, db, deltas, activations, cost = measured
        return Gradients(list(dW), list(db), list(deltas), [X, *activations], cost)

    return step
