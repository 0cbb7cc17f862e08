"""Training: the mini-batch loop over epochs and the small components beside it."""

from .config import (
    DEFAULT_LEARNING_RATES,
    MNIST_RECIPE,
    SCHEDULES,
    TrainingConfig,
    scheduled_learning_rate,
)
from .divergence import DivergenceError
from .history import EpochRecord, History
from .loop import train

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
