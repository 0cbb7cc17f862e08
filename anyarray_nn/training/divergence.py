"""Divergence: a NaN or infinite cost ends training, back at the last good epoch.

:class:`LastGoodEpoch` keeps device copies of the parameters and the optimiser state after
every finite epoch; when an epoch is not finite it puts them back and raises
:class:`DivergenceError`.
"""

from __future__ import annotations

from typing import Any

from ..nn.network import Network
from ..nn.optimizers import Optimizer
from .history import History

__all__ = ["DivergenceError", "LastGoodEpoch"]


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite cost.

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

    def __init__(self, epoch: int, learning_rate: float, history: History) -> None:
        self.epoch = epoch
        self.learning_rate = learning_rate
        self.history = history
        kept = f"epoch {epoch - 1}" if epoch > 1 else "the start (the initial weights)"
        super().__init__(
            f"training diverged in epoch {epoch}: the cost became NaN or infinite with "
            f"learning rate {learning_rate:g}; try a smaller learning rate (e.g. "
            f"{learning_rate / 10:g}). The network keeps the weights of {kept}."
        )


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

    def check(self, finite: bool, epoch: int, learning_rate: float, history: History) -> None:
        """Keep a finite epoch; roll back to the last good one and raise otherwise.

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

        Raises
        ------
        DivergenceError
            ``finite`` is false; the network and optimiser are back at the last good epoch.
        """
        if finite:
            self.keep()
            return
        self.network.load_parameters(self._parameters)
        self.optimizer.load_state(self._state, self._steps)
        raise DivergenceError(epoch, learning_rate, history)
