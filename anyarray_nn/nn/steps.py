"""The training step: back-propagation, then the optimiser, on the standard path or beside it.

:func:`step_function` chooses how one mini-batch step runs for a network and an optimiser:

* the standard path (every library): :meth:`Network.backprop` then
  :meth:`Network.apply_gradients`, the reference that every fast path is tested against;
* PyTorch: the same standard path inside ``torch.no_grad()``. No tensor of the library ever
  requires a gradient, so autograd records nothing anyway; ``no_grad`` makes sure of it even
  for tensors a caller made with ``requires_grad=True`` (the gradients are the essay's);
* JAX: the same math traced once and compiled with ``jax.jit``
  (:mod:`anyarray_nn.nn.jax_step`).

Fast paths are chosen with ``array_api_compat.is_*_namespace(xp)``, never by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_compat

from .gradients import Gradients
from .network import Network
from .optimizers import Optimizer

__all__ = ["Step", "standard_step", "step_function"]

Array = Any

#: A training step: ``step(X, Y, weight_decay)`` updates the network and returns the
#: :class:`Gradients` of the batch (``X`` checked, ``Y`` one-hot, as :meth:`Network.backprop`).
Step = Callable[[Array, Array, float], Gradients]


def standard_step(network: Network, optimizer: Optimizer) -> Step:
    """The reference step: :meth:`Network.backprop`, then :meth:`Network.apply_gradients`."""

    def step(X: Array, Y: Array, weight_decay: float) -> Gradients:
        grads = network.backprop(X, Y, weight_decay)
        network.apply_gradients(optimizer, grads)
        return grads

    return step


def step_function(network: Network, optimizer: Optimizer, *, compiled: bool = True) -> Step:
    """The step for ``network`` and ``optimizer``: a library's fast path where there is one.

    Parameters
    ----------
    network : Network
    optimizer : Optimizer
        Its ``learning_rate`` is read at every step (a schedule may change it).
    compiled : bool, default True
        ``False`` forces the standard path (the reference of the fast paths).

    Returns
    -------
    Step
        ``step(X, Y, weight_decay) -> Gradients``; ``X`` of shape (m, sizes[0]), ``Y``
        (m, sizes[-1]) on the network's device.
    """
    xp = network.xp
    if compiled and array_api_compat.is_jax_namespace(xp):
        from .jax_step import jax_step

        fast = jax_step(network, optimizer)
        if fast is not None:
            return fast
    standard = standard_step(network, optimizer)
    if array_api_compat.is_torch_namespace(xp):
        import torch  # a fast-path module: tests/test_layout.py allows it here

        def without_autograd(X: Array, Y: Array, weight_decay: float) -> Gradients:
            with torch.no_grad():
                return standard(X, Y, weight_decay)

        return without_autograd
    return standard
