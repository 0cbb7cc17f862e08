"""[dropout]: random masks for the hidden layers, drawn without a per-batch transfer.

Dropout (Srivastava et al. 2014) multiplies every hidden activation during training by an
independent mask value, 0 with probability ``rate`` and ``1 / (1 - rate)`` otherwise
(*inverted* scaling: the expected activation is unchanged, so evaluation uses the network as
it is, with no mask and no rescaling):

.. math:: \\tilde A^l = A^l \\odot M^l, \\qquad
          \\delta^l = (\\delta^{l+1} W^{l+1}) \\odot M^l \\odot \\phi'(Z^l)

(:func:`anyarray_nn.nn.propagation.feedforward` and :func:`~.propagation.backprop` take the
masks; the weight gradients (12) then use the masked activations).

Where the randomness comes from (the design)
--------------------------------------------
A mask is as large as the layer's activations, ``(m, n_l)`` per batch: drawn on the host it
would be the largest host-to-device copy of a training step.  Instead :class:`DropoutMasks`
draws, once, a *bank* of mask values on the host (a seeded ``numpy.random.Generator``, so
every backend receives the same bits), copies it to the device once, and cuts each batch's
mask out of it as a **window**: ``bank[o : o + m * n_l]`` reshaped to ``(m, n_l)``, at an
offset ``o`` drawn on the host per layer and batch.  A window is a slice, not a gather, so
a mask costs nothing on the device, and the only thing that crosses from host to device
per batch is nothing at all: the offsets are Python integers in the slice.  Windows at
different offsets hold different (independent) values for the same unit and sample, and
the bank is many windows long, so the masks of successive batches are as good as
independent for regularisation; the rate within a mask is that of the bank, within
sampling error.  (A counter-based hash on the device would avoid the bank's memory but needs
wrapping unsigned-integer arithmetic, which not every array library provides.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import Backend, from_numpy, host_rng

__all__ = ["DropoutMasks"]

Array = Any

#: Bank length, at least: ~8 MiB of float32, dozens of windows of a 128 x 800 layer.
MIN_BANK = 1 << 21


class DropoutMasks:
    """A device bank of inverted-dropout mask values and the per-batch windows cut from it.

    Parameters
    ----------
    backend : Backend
        Where the masks live (the network's).
    dtype : floating dtype of ``backend.xp``
    rate : float
        Probability of dropping a unit, ``0 <= rate < 1``.
    widths : sequence of int
        Widths ``n_l`` of the hidden layers.
    batch_size : int
        Largest batch ``m``; the bank holds at least 16 windows of the largest layer.
    seed : int
        Seed of the bank and of the offsets.

    Attributes
    ----------
    bank : array, shape (L,)
        Values ``0`` (probability ``rate``) or ``1 / (1 - rate)``.
    """

    def __init__(
        self,
        backend: Backend,
        dtype: Any,
        rate: float,
        widths: Sequence[int],
        batch_size: int,
        seed: int = 0,
    ) -> None:
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), not {rate}")
        self.rate = rate
        self.widths = [int(n) for n in widths]
        self.xp = backend.xp
        self.seed = int(seed)
        # Its own stream (the seed shifted by a constant): the batches' draws are unchanged.
        self.rng = host_rng(self.seed + 0xD0D0)
        largest = int(batch_size) * max(self.widths, default=1)
        length = max(MIN_BANK, 16 * largest)
        keep = 1.0 - rate
        values = (self.rng.random(length) >= rate) * (1.0 / keep)
        self.bank: Array = from_numpy(values, backend, dtype=dtype)  # the one copy
        self.length = length

    def start_epoch(self, epoch: int) -> None:
        """Restart the offsets' generator from ``(seed, epoch)``: an epoch's masks do not
        depend on the epochs before it, so a resumed run sees the same masks."""
        self.rng = host_rng(_epoch_seed(self.seed, epoch))

    def masks(self, m: int) -> list[Array]:
        """One mask ``(m, n_l)`` per hidden layer for a batch of ``m`` samples."""
        out = []
        for n in self.widths:
            size = m * n
            start = int(self.rng.integers(0, self.length - size + 1))
            out.append(self.xp.reshape(self.bank[start : start + size], (m, n)))
        return out


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + int(epoch)) & 0xFFFF_FFFF
