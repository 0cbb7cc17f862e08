"""The training loop: epochs of mini-batch gradient descent over a data set.

:func:`train` is a short orchestrator over one epoch (:func:`~.epoch.run_epoch`, where the
step and the on-device measurements live) with small components beside it: divergence
rollback (:mod:`.divergence`), early stopping (:mod:`.early_stopping`), checkpoints and resume
(:mod:`.checkpointing`) and the progress bar (:mod:`.progress`).  Its defaults live in
:mod:`.config`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import floating_point_errors_ignored
from ..nn.network import Network
from ..nn.optimizers import Optimizer, get_optimizer
from .checkpointing import Checkpoints
from .config import DEFAULT_LEARNING_RATES, TrainingConfig, merge_config, scheduled_learning_rate
from .divergence import DivergenceError, LastGoodEpoch
from .early_stopping import EarlyStopping
from .epoch import make_batches, make_dropout, run_epoch
from .history import EpochRecord, History
from .progress import ProgressBar
from .standardize import Standardization, device_features, folded_when_done

if TYPE_CHECKING:
    import numpy as np

# ``train``'s result and error types are documented (and importable) here too.
__all__ = [
    "DEFAULT_LEARNING_RATES",
    "DivergenceError",
    "EpochRecord",
    "History",
    "TrainingConfig",
    "scheduled_learning_rate",
    "train",
]


def train(
    network: Network,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    config: TrainingConfig | None = None,
    optimizer: str | Optimizer | None = None,
    progress: bool | None = None,
    diagnostics: bool = True,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    memory_budget: int | None = None,
    callback: Callable[[EpochRecord], None] | None = None,
    **overrides: Any,
) -> History:
    """Train ``network`` in place by mini-batch gradient descent.

    Parameters
    ----------
    network : Network
    images : numpy.ndarray of uint8, shape (n, H, W) or (n, H*W); or features, shape (n, d)
        Host ``uint8`` images (scaled by 1/255 on the device, the fast resident or streamed
        path), or numeric features of any dtype, host or device arrays, used as given.
        Moved to the network's device once.
    labels : array of int, shape (n,); or float targets, shape (n,) or (n, k)
        Class labels (one-hot encoded), or regression targets used as given (features only).
    validation : (images, labels), optional
        A validation set (carved from the training data, never the test set), evaluated
        after each epoch; needed for early stopping.
    config : TrainingConfig, optional
        Hyper-parameters; keyword ``overrides`` (e.g. ``epochs=5``) replace its fields.
        When ``learning_rate`` is not given, :data:`DEFAULT_LEARNING_RATES` applies.
    optimizer : {"sgd", "momentum", "adam"} or Optimizer, optional
        The optimiser by name (a config field), or an instance to use as it is (its
        learning rate is still set by the schedule each epoch).
    progress : bool, optional
        Show a tqdm progress bar; by default only when stderr is a terminal.
    diagnostics : bool
        Measure mean ``|delta|`` and saturation per layer (a few percent of the step time).
    checkpoint : path, optional
        Write a checkpoint (weights, optimiser state, epoch, RNG state, history) after every
        epoch, atomically.
    resume : bool
        Continue from ``checkpoint`` when it exists; the result equals an uninterrupted run.
    memory_budget : int, optional
        Device bytes the training images may occupy before they are streamed.
    callback : callable, optional
        Called with each :class:`EpochRecord`.

    Returns
    -------
    History

    Raises
    ------
    DivergenceError
        The cost became NaN or infinite; the weights of the last good epoch are kept.
    """
    config, optimizer = _config_and_optimizer(config, optimizer, overrides)
    _check_arguments(config, checkpoint, resume, validation)
    standardization, fit_images, fit_validation = _standardized(network, images, validation, config)
    batches, val_batches = make_batches(
        network, fit_images, labels, fit_validation, config, memory_budget
    )
    stopping = EarlyStopping(config.patience, by_cost=not batches.one_hot)  # regression: cost
    checkpoints = Checkpoints(
        checkpoint, network, optimizer, config, batches.rng, stopping, (images, labels, validation)
    )
    checkpoints.standardization = standardization  # the best-model file gets the folded copy
    start_epoch, history = checkpoints.resume() if resume else (0, History())
    last_good = LastGoodEpoch(network, optimizer)
    dropout = make_dropout(network, config)
    bar = ProgressBar(progress, (config.epochs - start_epoch) * len(batches))
    # A diverging run overflows; NumPy (and array_api_strict, built on it) would warn at
    # every step (or raise under ``-W error``) before the epoch's check reports it once,
    # as a DivergenceError.
    with folded_when_done(network, standardization), floating_point_errors_ignored(), bar:
        for epoch in range(start_epoch + 1, config.epochs + 1):
            if history.stopped_early:
                break
            lr = scheduled_learning_rate(config, epoch - 1)
            record, finite = run_epoch(
                network,
                optimizer,
                batches,
                val_batches,
                epoch=epoch,
                learning_rate=lr,
                weight_decay=config.weight_decay,
                diagnostics=diagnostics,
                progress=bar,
                dropout=dropout,
            )
            last_good.check(finite, epoch, lr, history, record)
            history.records.append(record)
            if stopping.update(record, network, history):
                checkpoints.save_best()
            bar.epoch_done(record)
            checkpoints.save(epoch, history)
            if callback is not None:
                callback(record)
        stopping.restore_best(network)
    return history


def _check_arguments(
    config: TrainingConfig, checkpoint: Any, resume: bool, validation: Any
) -> None:
    if checkpoint is None and resume:
        raise ValueError("resume=True needs a checkpoint path")
    if config.patience is not None and validation is None:
        raise ValueError("early stopping (patience) needs a validation set")


def _standardized(
    network: Network, images: Any, validation: tuple[Any, Any] | None, config: TrainingConfig
) -> tuple[Standardization | None, Any, tuple[Any, Any] | None]:
    """With ``config.standardize``: the training rows' statistics, and the training and
    validation features standardised with them, on the device."""
    if not config.standardize:
        return None, images, validation
    X = device_features(network, images)
    standardization = Standardization.fit(network, X)
    fit_validation = None
    if validation is not None:
        fit_validation = (
            standardization.apply(device_features(network, validation[0])),
            validation[1],
        )
    return standardization, standardization.apply(X), fit_validation


def _config_and_optimizer(
    config: TrainingConfig | None,
    optimizer: str | Optimizer | None,
    overrides: dict[str, Any],
) -> tuple[TrainingConfig, Optimizer]:
    """Reconcile ``train``'s arguments: an optimiser instance's name and rate are fields."""
    if isinstance(optimizer, str):
        overrides["optimizer"] = optimizer
        optimizer = None
    elif optimizer is not None:
        overrides.setdefault("optimizer", optimizer.name)
        overrides.setdefault("learning_rate", optimizer.learning_rate)
    config = merge_config(config, overrides)
    if optimizer is None:
        kwargs = {"momentum": config.momentum} if config.optimizer == "momentum" else {}
        optimizer = get_optimizer(config.optimizer, config.learning_rate, **kwargs)
    return config, optimizer
