"""What a training run measured: one :class:`EpochRecord` per epoch, gathered in a
:class:`History` (also the JSON form kept in checkpoints)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EpochRecord", "History"]


@dataclass
class EpochRecord:
    """What one epoch measured.

    ``train_cost`` and ``train_accuracy`` average the mini-batches of the epoch (the weights
    move during it).  ``mean_abs_delta[l]`` and ``saturation[l]`` refer to layer ``l + 1``
    (the first hidden layer first, the output layer last): the mean ``|delta^l|`` (the
    essay's (13)) and the fraction of saturated units (sigmoid within 0.01 of 0 or 1, ReLU
    exactly 0, tanh within 0.02 of +-1), both averaged over the epoch's batches.  For ReLU
    a unit at 0 is *inactive* rather than saturated (its gradient is 0 for that sample only);
    ``dead_units[l]`` (ReLU hidden layers only) is the fraction of hidden layer ``l + 1``'s
    units that were 0 for every sample of the epoch: dead, they no longer learn.
    """

    epoch: int
    train_cost: float
    train_accuracy: float
    learning_rate: float
    seconds: float
    validation_cost: float | None = None
    validation_accuracy: float | None = None
    mean_abs_delta: list[float] = field(default_factory=list)
    saturation: list[float] = field(default_factory=list)
    dead_units: list[float] = field(default_factory=list)


@dataclass
class History:
    """Per-epoch records of a training run.

    Attributes
    ----------
    records : list of EpochRecord
    best_epoch : int or None
        With a validation set: the epoch with the best validation accuracy.
    stopped_early : bool
    """

    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def __len__(self) -> int:
        return len(self.records)

    @property
    def seconds(self) -> float:
        """Wall time of all epochs, in seconds."""
        return float(sum(r.seconds for r in self.records))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (the form stored in checkpoints)."""
        return {
            "epochs": [asdict(r) for r in self.records],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The history that :meth:`to_dict` wrote."""
        return cls(
            records=[EpochRecord(**r) for r in data.get("epochs", [])],
            best_epoch=data.get("best_epoch"),
            stopped_early=bool(data.get("stopped_early", False)),
        )
