"""What one back-propagation pass produces (see :meth:`Network.backprop`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Array = Any

__all__ = ["Gradients"]


@dataclass
class Gradients:
    """The gradients of one mini-batch, and what the training loop reads besides.

    Attributes
    ----------
    dW : list of arrays
        ``dW[l]`` has the shape of ``weights[l]``, (n_{l+1}, n_l): the essay's (12),
        written transposed, with the [L2] term included.
    db : list of arrays
        ``db[l]`` has the shape of ``biases[l]``, (n_{l+1},).
    deltas : list of arrays
        ``deltas[l]`` is the error of layer ``l + 1``, (m, n_{l+1}): the essay's (13), and
        the output error last.
    activations : list of arrays
        ``activations[0]`` is ``X``; ``activations[l]`` is ``A^l``, (m, n_l).
    cost : 0-d array
        The mean cost of the batch (without the L2 term), still on the device.
    """

    dW: list[Array]
    db: list[Array]
    deltas: list[Array] = field(repr=False)
    activations: list[Array] = field(repr=False)
    cost: Array = field(repr=False)
