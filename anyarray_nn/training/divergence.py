"""Divergence: a run that cannot recover ends training, back at the last good epoch.

The rule (:func:`diverged`), checked after every epoch:

* the cost (or any value measured) is NaN or infinite; or
* the cost exceeds :data:`COST_FACTOR` (10^6) times the first epoch's cost (at least 10^-3), or
  :data:`COST_LIMIT` (10^6) in the first epoch (a finite overflow in the making: a
  learning rate of 10^4 gave costs of 10^17 with every ReLU dead); or
* every unit of a hidden layer was saturated (for ReLU: dead, output 0) for every sample
  of the epoch -- no gradient reaches the layers below it again.  Measured when
  ``diagnostics`` are on (the default).

:class:`LastGoodEpoch` keeps device copies of the parameters and the optimiser state after
every good epoch; when an epoch diverges it puts them back and raises
:class:`DivergenceError`.
"""

from __future__ import annotations

from typing import Any

from ..nn.network import Network
from ..nn.optimizers import Optimizer
from .history import History

__all__ = ["COST_FACTOR", "COST_LIMIT", "DivergenceError", "LastGoodEpoch", "diverged"]

#: A cost this many times the first epoch's is divergence.
COST_FACTOR = 1e6
#: A first-epoch cost above this is divergence (sane costs are below 10^2).
COST_LIMIT = 1e6


class DivergenceError(FloatingPointError):
    """Training diverged: a NaN or infinite cost, a cost above 10^6 times the first epoch's
    (10^6 in the first epoch), or a hidden layer whose units were all saturated (dead
    ReLUs) for a whole epoch (see :func:`diverged`).

    The network keeps the weights, and the optimiser its state, of the last good epoch.

    Attributes
    ----------
    epoch : int
        The (1-based) epoch whose cost was not finite.
    learning_rate : float
        The learning rate in use.
    history : History
        The epochs completed before the divergence.
    """

    def __init__(
        self,
        epoch: int,
        learning_rate: float,
        history: History,
        reason: str = "the cost became NaN or infinite",
    ) -> None:
        self.epoch = epoch
        self.learning_rate = learning_rate
        self.history = history
        self.reason = reason
        kept = f"epoch {epoch - 1}" if epoch > 1 else "the start (the initial weights)"
        super().__init__(
            f"training diverged in epoch {epoch}: {reason} with "
            f"learning rate {learning_rate:g}; try a smaller learning rate (e.g. "
            f"{learning_rate / 10:g}). The network keeps the weights of {kept}."
        )


def diverged(finite: bool, record: Any, history: History) -> str | None:
    """Why the epoch of ``record`` diverged, or ``None`` when it did not (the rule above)."""
    if not finite:
        return "the cost became NaN or infinite"
    cost = float(record.train_cost)
    first = float(history.records[0].train_cost) if history.records else None
    limit = COST_LIMIT if first is None else COST_FACTOR * max(first, 1e-3)
    if cost > limit:
        return f"the cost {cost:.3g} exceeded {limit:.3g}"
    hidden = list(record.saturation)[:-1]  # the output layer's saturation is no sign
    for l, fraction in enumerate(hidden, start=1):
        if fraction >= 1.0:
            return f"every unit of hidden layer {l} was saturated (dead) for the whole epoch"
    return None


class LastGoodEpoch:
    """Device copies of the parameters and optimiser state of the last finite epoch.

    Parameters
    ----------
    network : Network
    optimizer : Optimizer
        Its state arrays live in ``network``'s namespace and on its device.

    Notes
    -----
    The snapshot is taken on construction (the start of training, or the resumed state).
    """

    def __init__(self, network: Network, optimizer: Optimizer) -> None:
        self.network = network
        self.optimizer = optimizer
        self._parameters: list[Any] = []
        self._state: list[Any] = []
        self._steps = 0
        self.keep()

    def keep(self) -> None:
        """Remember the current parameters and optimiser state as the last good ones."""
        xp = self.network.xp
        self._parameters = self.network.copy_parameters()
        self._state = [xp.asarray(a, copy=True) for a in self.optimizer.state_arrays()]
        self._steps = self.optimizer.steps

    def check(
        self,
        finite: bool,
        epoch: int,
        learning_rate: float,
        history: History,
        record: Any = None,
    ) -> None:
        """Keep a good epoch; roll back to the last good one and raise otherwise.

        Parameters
        ----------
        finite : bool
            Whether every value the epoch measured is finite.
        epoch : int
            The (1-based) epoch just run.
        learning_rate : float
            Its learning rate (for the message).
        history : History
            The epochs before it.
        record : EpochRecord, optional
            The epoch's record: its cost and saturation are checked by :func:`diverged`
            (without it, only ``finite``).

        Raises
        ------
        DivergenceError
            The epoch diverged; the network and optimiser are back at the last good epoch.
        """
        reason = (
            diverged(finite, record, history)
            if record is not None
            else (None if finite else "the cost became NaN or infinite")
        )
        if reason is None:
            self.keep()
            return
        self.network.load_parameters(self._parameters)
        self.optimizer.load_state(self._state, self._steps)
        raise DivergenceError(epoch, learning_rate, history, reason)
