"""Early stopping on the validation accuracy: the best epoch, patience, the best weights.

:class:`EarlyStopping` follows the best validation accuracy of a run (the history's
``best_epoch`` is set with or without patience); with a ``patience`` it also stops the run
after that many epochs without improvement and puts the best epoch's weights back at the end.
"""

from __future__ import annotations

from typing import Any

from ..nn.network import Network
from .history import EpochRecord, History

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Best-epoch tracking and patience over the validation accuracy.

    Parameters
    ----------
    patience : int or None
        Stop after this many epochs without a better validation accuracy; ``None``: never
        stop, only track the best epoch.
    by_cost : bool, default False
        Follow the validation cost instead (regression targets).

    Attributes
    ----------
    best_accuracy : float
        The best validation accuracy so far (-1 before the first epoch).
    epochs_without_improvement : int
    best_parameters : list of arrays or None
        Device copies of the best epoch's parameters (kept only with a ``patience``).
    """

    def __init__(self, patience: int | None, *, by_cost: bool = False) -> None:
        self.patience = patience
        self.by_cost = by_cost
        self.best_accuracy = -1.0
        self.best_cost = float("inf")
        self.epochs_without_improvement = 0
        self.best_parameters: list[Any] | None = None

    def update(self, record: EpochRecord, network: Network, history: History) -> bool:
        """Take in an epoch's record; return whether it is the best epoch so far.

        Sets ``history.best_epoch`` on improvement and ``history.stopped_early`` when the
        patience runs out.  A record without validation accuracy changes nothing.
        """
        accuracy = record.validation_accuracy
        if accuracy is None:
            return False
        # Ties in accuracy go to the lower validation cost; regression (``by_cost``) has no
        # accuracy to speak of and follows the cost alone.
        cost = record.validation_cost if record.validation_cost is not None else 0.0
        improved = cost < self.best_cost
        if not self.by_cost:
            better = accuracy > self.best_accuracy
            improved = better or (accuracy == self.best_accuracy and improved)
        if improved:
            self.best_accuracy, self.best_cost = accuracy, cost
            history.best_epoch = record.epoch
            self.epochs_without_improvement = 0
            if self.patience is not None:
                self.best_parameters = network.copy_parameters()
        else:
            self.epochs_without_improvement += 1
        if self.patience is not None and self.epochs_without_improvement >= self.patience:
            history.stopped_early = True
        return improved

    def restore_best(self, network: Network) -> None:
        """With a ``patience``: put the best epoch's parameters back into ``network``."""
        if self.patience is not None and self.best_parameters is not None:
            network.load_parameters(self.best_parameters)

    def state(self) -> dict[str, Any]:
        """The JSON-ready values a checkpoint keeps to resume the tracking."""
        return {
            "best_accuracy": self.best_accuracy,
            "best_cost": self.best_cost,
            "epochs_without_improvement": self.epochs_without_improvement,
        }

    def load_state(self, state: dict[str, Any], best_parameters: list[Any] | None) -> None:
        """Resume from a checkpoint's ``state`` and the best model file's parameters."""
        self.best_accuracy = float(state.get("best_accuracy", -1.0))
        self.best_cost = float(state.get("best_cost", float("inf")))
        self.epochs_without_improvement = int(state.get("epochs_without_improvement", 0))
        if self.patience is not None:
            self.best_parameters = best_parameters
