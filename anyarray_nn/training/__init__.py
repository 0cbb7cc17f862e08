"""Training: the mini-batch loop over epochs and the small components beside it."""

from .config import (
    DEFAULT_LEARNING_RATES,
    MNIST_RECIPE,
    SCHEDULES,
    TrainingConfig,
    scheduled_learning_rate,
)
from .loop import DivergenceError, EpochRecord, History, train

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "MNIST_RECIPE",
    "SCHEDULES",
    "DivergenceError",
    "EpochRecord",
    "History",
    "TrainingConfig",
    "scheduled_learning_rate",
    "train",
]
