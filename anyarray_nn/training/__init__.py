"""Training: the mini-batch loop over epochs and the small components beside it."""

from .loop import (
    DEFAULT_LEARNING_RATES,
    SCHEDULES,
    DivergenceError,
    EpochRecord,
    History,
    TrainingConfig,
    scheduled_learning_rate,
    train,
)

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "SCHEDULES",
    "DivergenceError",
    "EpochRecord",
    "History",
    "TrainingConfig",
    "scheduled_learning_rate",
    "train",
]
