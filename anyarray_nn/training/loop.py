"""The training loop: epochs of mini-batch gradient descent over a data set.

:func:`train` runs epochs over a :class:`~anyarray_nn.data.BatchIterator`, with an optional
learning-rate schedule, early stopping on a validation set, on-the-fly shift augmentation,
per-epoch checkpoints and resume.  Everything that is measured per batch (cost, correct
predictions, mean ``|delta|`` and saturated units per layer) is accumulated *on the device*;
the host reads one small vector back per epoch, never per batch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from array_api_compat import array_namespace

from ..backend import floating_point_errors_ignored, to_numpy
from ..data.batches import BatchIterator
from ..nn.network import Network
from ..nn.optimizers import Optimizer, get_optimizer
from ..persistence import load_checkpoint, load_network, save_checkpoint, save_network
from .config import DEFAULT_LEARNING_RATES, TrainingConfig, scheduled_learning_rate

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "DivergenceError",
    "EpochRecord",
    "History",
    "TrainingConfig",
    "scheduled_learning_rate",
    "train",
]


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


@dataclass
class EpochRecord:
    """What one epoch measured.

    ``train_cost`` and ``train_accuracy`` average the mini-batches of the epoch (the weights
    move during it).  ``mean_abs_delta[l]`` and ``saturation[l]`` refer to layer ``l + 1``
    (the first hidden layer first, the output layer last): the mean ``|delta^l|`` (eq. 8) and
    the fraction of saturated units (sigmoid within 0.01 of 0 or 1, ReLU exactly 0, tanh
    within 0.02 of +-1), both averaged over the epoch's batches.
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

    def __getitem__(self, key: str) -> list[Any]:
        """A column, e.g. ``history["validation_accuracy"]``."""
        return [getattr(r, key) for r in self.records]

    @property
    def seconds(self) -> float:
        return float(sum(r.seconds for r in self.records))

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": [asdict(r) for r in self.records],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(
            records=[EpochRecord(**r) for r in data.get("epochs", [])],
            best_epoch=data.get("best_epoch"),
            stopped_early=bool(data.get("stopped_early", False)),
        )


def _copy_params(network: Network) -> list[Any]:
    return network.copy_parameters()


def _restore_params(network: Network, saved: list[Any]) -> None:
    network.load_parameters(saved)


def _copy_state(optimizer: Optimizer) -> tuple[list[Any], int]:
    """A copy of the optimiser's state arrays (on their device) and its step count."""
    arrays = optimizer.state_arrays()
    if not arrays:
        return [], optimizer.steps
    xp = array_namespace(arrays[0])
    return [xp.asarray(a, copy=True) for a in arrays], optimizer.steps


def _score_batches(network: Network, batches: BatchIterator) -> tuple[Any, Any]:
    """Summed cost and number of correct predictions over ``batches``, on the device."""
    xp = network.xp
    cost_sum = xp.zeros((), dtype=network.dtype, device=network.device)
    correct = xp.zeros((), dtype=network.dtype, device=network.device)
    for X, Y in batches:
        _, As, value = network.forward_with_cost(X, Y)
        cost_sum = cost_sum + value * float(X.shape[0])
        hits = xp.argmax(As[-1], axis=1) == xp.argmax(Y, axis=1)
        correct = correct + xp.sum(xp.astype(hits, network.dtype))
    return cost_sum, correct


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
    images : numpy.ndarray of uint8, shape (n, 28, 28) or (n, 784)
        Host training images; moved to the network's device once.
    labels : numpy.ndarray of int, shape (n,)
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
    if isinstance(optimizer, str):
        overrides["optimizer"] = optimizer
        optimizer = None
    elif optimizer is not None:
        overrides.setdefault("optimizer", optimizer.name)
        overrides.setdefault("learning_rate", optimizer.learning_rate)
    if config is None:
        if "learning_rate" not in overrides:
            name = optimizer.name if optimizer is not None else overrides.get("optimizer", "adam")
            overrides["learning_rate"] = DEFAULT_LEARNING_RATES.get(str(name), 1e-3)
        config = TrainingConfig(**overrides)
    elif overrides:
        config = TrainingConfig(**{**config.to_dict(), **overrides})
    if optimizer is None:
        kwargs = {"momentum": config.momentum} if config.optimizer == "momentum" else {}
        optimizer = get_optimizer(config.optimizer, config.learning_rate, **kwargs)
    if checkpoint is None and resume:
        raise ValueError("resume=True needs a checkpoint path")
    if config.patience is not None and validation is None:
        raise ValueError("early stopping (patience) needs a validation set")

    xp = network.xp
    batches = BatchIterator(
        images,
        labels,
        batch_size=config.batch_size,
        backend=network.backend,
        dtype=network.dtype_name,
        shuffle=True,
        seed=config.seed,
        num_classes=network.sizes[-1],
        memory_budget=memory_budget,
        max_shift=config.max_shift,
        image_shape=_image_shape(images, network),
    )
    val_batches = None
    if validation is not None:
        val_batches = BatchIterator(
            validation[0],
            validation[1],
            batch_size=max(config.batch_size, 1024),
            backend=network.backend,
            dtype=network.dtype_name,
            shuffle=False,
            num_classes=network.sizes[-1],
            image_shape=_image_shape(validation[0], network),
        )

    history = History()
    start_epoch = 0
    best_accuracy = -1.0
    best_params: list[Any] | None = None
    epochs_without_improvement = 0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    best_path = checkpoint.with_name(checkpoint.name + ".best.npz") if checkpoint else None
    if resume and checkpoint is not None and checkpoint.exists():
        meta = load_checkpoint(checkpoint, network, optimizer)
        _check_resumed_config(checkpoint, meta["state"].get("config", {}), config)
        start_epoch = int(meta["epoch"])
        batches.rng.bit_generator.state = meta["rng_state"]
        state = meta["state"]
        history = History.from_dict(state["history"])
        best_accuracy = float(state.get("best_accuracy", -1.0))
        epochs_without_improvement = int(state.get("epochs_without_improvement", 0))
        if best_path is not None and best_path.exists():
            best_net = load_network(best_path, network.backend)
            best_params = best_net.parameters

    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = _progress_bar(show, config.epochs, start_epoch, len(batches))
    last_good, last_good_state = _copy_params(network), _copy_state(optimizer)
    hidden, output = network.hidden_activation, network.output_activation
    L = network.n_layers
    # A diverging run overflows; NumPy (and array_api_strict, built on it) would warn at
    # every step (or raise under ``-W error``) before the epoch's check below reports it
    # once, as a DivergenceError.
    with floating_point_errors_ignored():
        try:
            for epoch in range(start_epoch, config.epochs):
                if history.stopped_early:
                    break
                lr = scheduled_learning_rate(config, epoch)
                optimizer.learning_rate = lr
                t0 = time.perf_counter()
                zero = xp.zeros((), dtype=network.dtype, device=network.device)
                cost_sum, correct = zero, zero
                delta_sums = [zero] * L
                saturation_sums = [zero] * L
                n_batches = 0
                for X, Y in batches:
                    grads = network.backprop(X, Y, config.weight_decay)
                    network.apply_gradients(optimizer, grads)
                    m = float(X.shape[0])
                    cost_sum = cost_sum + grads.cost * m
                    hits = xp.argmax(grads.activations[-1], axis=1) == xp.argmax(Y, axis=1)
                    correct = correct + xp.sum(xp.astype(hits, network.dtype))
                    if diagnostics:
                        for l in range(L):
                            delta_sums[l] = delta_sums[l] + xp.mean(xp.abs(grads.deltas[l]))
                            phi = output if l == L - 1 else hidden
                            saturated = phi.saturated(xp, grads.activations[l + 1])
                            saturation_sums[l] = saturation_sums[l] + xp.mean(
                                xp.astype(saturated, network.dtype)
                            )
                    n_batches += 1
                    if bar is not None:
                        bar.update(1)
                scalars = [cost_sum, correct, *delta_sums, *saturation_sums]
                if val_batches is not None:
                    scalars += list(_score_batches(network, val_batches))
                # The one device-to-host read of the epoch.
                values = [float(v) for v in to_numpy(xp.stack(scalars)).tolist()]
                seconds = time.perf_counter() - t0
                n_seen = max(batches.n_samples, 1)
                record = EpochRecord(
                    epoch=epoch + 1,
                    train_cost=float(values[0] / n_seen),
                    train_accuracy=float(values[1] / n_seen),
                    learning_rate=lr,
                    seconds=seconds,
                )
                if diagnostics and n_batches:
                    record.mean_abs_delta = [float(v / n_batches) for v in values[2 : 2 + L]]
                    record.saturation = [float(v / n_batches) for v in values[2 + L : 2 + 2 * L]]
                if val_batches is not None:
                    n_val = max(val_batches.n_samples, 1)
                    record.validation_cost = float(values[-2] / n_val)
                    record.validation_accuracy = float(values[-1] / n_val)
                if not all(math.isfinite(v) for v in values):
                    _restore_params(network, last_good)
                    optimizer.load_state(*last_good_state)
                    raise DivergenceError(epoch + 1, lr, history)
                last_good, last_good_state = _copy_params(network), _copy_state(optimizer)
                history.records.append(record)
                if record.validation_accuracy is not None:
                    if record.validation_accuracy > best_accuracy:
                        best_accuracy = record.validation_accuracy
                        history.best_epoch = record.epoch
                        best_params = _copy_params(network)
                        epochs_without_improvement = 0
                        if best_path is not None:
                            save_network(network, best_path)
                    else:
                        epochs_without_improvement += 1
                    if (
                        config.patience is not None
                        and epochs_without_improvement >= config.patience
                    ):
                        history.stopped_early = True
                if bar is not None:
                    bar.set_postfix_str(_postfix(record))
                if checkpoint is not None:
                    save_checkpoint(
                        checkpoint,
                        network,
                        optimizer,
                        epoch=epoch + 1,
                        rng_state=batches.rng.bit_generator.state,
                        state={
                            "config": config.to_dict(),
                            "history": history.to_dict(),
                            "best_accuracy": best_accuracy,
                            "epochs_without_improvement": epochs_without_improvement,
                        },
                    )
                if callback is not None:
                    callback(record)
        finally:
            if bar is not None:
                bar.close()
    if config.patience is not None and best_params is not None:
        _restore_params(network, best_params)
    return history


def _check_resumed_config(path: Path, saved: dict[str, Any], config: TrainingConfig) -> None:
    """Resuming continues the same run: only ``epochs`` may change (to train longer)."""
    current = config.to_dict()
    changed = sorted(
        key for key in current if key != "epochs" and key in saved and saved[key] != current[key]
    )
    if changed:
        details = ", ".join(f"{k} {saved[k]!r} -> {current[k]!r}" for k in changed)
        raise ValueError(
            f"{path}: cannot resume with a different training configuration ({details}); "
            "use the checkpoint's settings or start a new run"
        )


def _image_shape(images: np.ndarray, network: Network) -> tuple[int, int]:
    if len(images.shape) == 3:
        return (int(images.shape[1]), int(images.shape[2]))
    n = network.sizes[0]
    side = math.isqrt(n)
    return (side, side) if side * side == n else (1, n)


def _progress_bar(show: bool, epochs: int, start: int, per_epoch: int) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=(epochs - start) * per_epoch,
        unit="batch",
        desc="training",
        leave=False,
        dynamic_ncols=True,
    )


def _postfix(record: EpochRecord) -> str:
    text = f"epoch {record.epoch} cost {record.train_cost:.4f} acc {record.train_accuracy:.4f}"
    if record.validation_accuracy is not None:
        text += f" val {record.validation_accuracy:.4f}"
    return text
