"""One epoch of mini-batch gradient descent, measured on the device.

:func:`run_epoch` runs the step (back-propagation, then the optimiser) over every batch and
adds up, *on the device*, what the epoch measures: the cost, the correct predictions and, with
diagnostics, the mean ``|delta|`` and the saturated units per layer (for ReLU: the *inactive*
units, exactly 0) and, for ReLU hidden layers, the units *dead* over the whole epoch (0 for
every sample of every batch).  The host reads one small
vector back per epoch (with the validation scores), never per batch.  :func:`make_batches`
builds the batch iterators the epochs run over.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..backend import compiled_function, to_numpy
from ..data.batches import BatchIterator, image_shape
from ..data.distortions import DISTORTION_PRESETS
from ..data.feature_batches import FeatureBatchIterator, is_image_data
from ..nn import propagation
from ..nn.activations import Activation
from ..nn.dropout import DropoutMasks
from ..nn.network import Gradients, Network
from ..nn.optimizers import Optimizer
from ..nn.steps import step_function
from .config import TrainingConfig
from .history import EpochRecord
from .progress import ProgressBar

if TYPE_CHECKING:
    import numpy as np

__all__ = ["make_batches", "make_dropout", "make_feature_batches", "run_epoch", "score_batches"]


def make_batches(
    network: Network,
    images: np.ndarray,
    labels: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    config: TrainingConfig,
    memory_budget: int | None,
) -> tuple[BatchIterator | FeatureBatchIterator, BatchIterator | FeatureBatchIterator | None]:
    """The shuffled (and shifted) training batches and, with a validation set, its batches.

    Validation batches are at least 1024 samples: they only run the forward pass.  Data that
    are not ``uint8`` images (float features) go through :func:`make_feature_batches`.
    """
    if not is_image_data(images):
        return make_feature_batches(network, images, labels, validation, config)
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
        image_shape=image_shape(images, network.sizes[0]),
        distortions=DISTORTION_PRESETS[config.distortions],
    )
    if validation is None:
        return batches, None
    val_batches = BatchIterator(
        validation[0],
        validation[1],
        batch_size=max(config.batch_size, 1024),
        backend=network.backend,
        dtype=network.dtype_name,
        shuffle=False,
        num_classes=network.sizes[-1],
        image_shape=image_shape(validation[0], network.sizes[0]),
    )
    return batches, val_batches


def make_feature_batches(
    network: Network,
    features: Any,
    targets: Any,
    validation: tuple[Any, Any] | None,
    config: TrainingConfig,
) -> tuple[FeatureBatchIterator, FeatureBatchIterator | None]:
    """Batches of features used as given (not rescaled); integer targets become one-hot."""
    if config.max_shift:
        raise ValueError("max_shift (random image shifts) needs uint8 images, not features")
    common = {"backend": network.backend, "dtype": network.dtype_name}
    k = network.sizes[-1]
    batches = FeatureBatchIterator(
        features, targets, batch_size=config.batch_size, seed=config.seed, num_classes=k, **common
    )
    if validation is None:
        return batches, None
    size = max(config.batch_size, 1024)
    val = FeatureBatchIterator(*validation, batch_size=size, shuffle=False, num_classes=k, **common)
    return batches, val


def make_dropout(network: Network, config: TrainingConfig) -> DropoutMasks | None:
    """[dropout] masks for the hidden layers when ``config.dropout > 0``, else ``None``."""
    if config.dropout <= 0.0 or network.n_layers < 2:
        return None
    widths = network.sizes[1:-1]
    return DropoutMasks(
        network.backend, network.dtype_name, config.dropout, widths, config.batch_size, config.seed
    )


class _Sums:
    """The epoch's running sums, as 0-d device arrays (no host read while they grow).

    One batch is added by a pure function of the sums and the batch's arrays
    (:func:`_accumulator`), compiled where the library compiles (JAX: one dispatch per batch
    instead of some twenty), else run as it is.
    """

    def __init__(self, network: Network, diagnostics: bool) -> None:
        self.network = network
        self.diagnostics = diagnostics
        xp = network.xp
        zero = xp.zeros((), dtype=network.dtype, device=network.device)
        # ReLU hidden layers: per unit, 1 once it has been active (> 0) for any sample.
        relu = network.hidden_activation.name == "relu"
        n_hidden = network.n_layers - 1 if relu and diagnostics else 0
        active = [
            xp.zeros((network.sizes[l + 1],), dtype=network.dtype, device=network.device)
            for l in range(n_hidden)
        ]
        L = network.n_layers
        self.state: _State = (zero, zero, [zero] * L, [zero] * L, active)
        self._add = _accumulator(
            xp,
            network.dtype,
            network.hidden_activation,
            network.output_activation,
            diagnostics,
        )
        self.n_batches = 0

    @property
    def cost(self) -> Any:
        return self.state[0]

    @property
    def correct(self) -> Any:
        return self.state[1]

    @property
    def deltas(self) -> list[Any]:
        return self.state[2]

    @property
    def saturation(self) -> list[Any]:
        return self.state[3]

    @property
    def active(self) -> list[Any]:
        return self.state[4]

    def add(self, grads: Gradients, Y: Any) -> None:
        """Add one batch: its summed cost, its hits and (with diagnostics) its layers."""
        self.state = self._add(self.state, grads.cost, grads.activations, grads.deltas, Y)
        self.n_batches += 1

    def scalars(self) -> list[Any]:
        xp = self.network.xp
        dead = [1.0 - xp.mean(active) for active in self.active]
        return [self.cost, self.correct, *self.deltas, *self.saturation, *dead]


#: cost sum, hits, per-layer mean |delta| sums, per-layer saturation sums, ReLU units seen active
_State = tuple[Any, Any, list[Any], list[Any], list[Any]]


@functools.lru_cache(maxsize=64)
def _accumulator(
    xp: Any, dtype: Any, hidden: Activation, output: Activation, diagnostics: bool
) -> Callable[..., _State]:
    """The pure step of :class:`_Sums` for one kind of network (cached: JAX compiles it once
    per kind and batch shape, not once per epoch)."""

    def add(state: _State, cost: Any, A: list[Any], deltas: list[Any], Y: Any) -> _State:
        cost_sum, correct, delta_sums, saturation, active = state
        cost_sum = cost_sum + cost * float(A[0].shape[0])  # A^0 is the batch X
        hits = xp.argmax(A[-1], axis=1) == xp.argmax(Y, axis=1)
        correct = correct + xp.sum(xp.astype(hits, dtype))
        if diagnostics:
            L = len(deltas)
            delta_sums = [s + xp.mean(xp.abs(d)) for s, d in zip(delta_sums, deltas, strict=True)]
            phis = [hidden] * (L - 1) + [output]
            saturation = [
                s + xp.mean(xp.astype(phi.saturated(xp, a), dtype))
                for s, phi, a in zip(saturation, phis, A[1:], strict=True)
            ]
            active = [
                xp.maximum(seen, xp.astype(xp.any(a > 0.0, axis=0), dtype))
                for seen, a in zip(active, A[1:], strict=False)
            ]
        return cost_sum, correct, delta_sums, saturation, active

    return compiled_function(xp, add)


def score_batches(network: Network, batches: BatchIterator) -> tuple[Any, Any]:
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


def run_epoch(
    network: Network,
    optimizer: Optimizer,
    batches: BatchIterator,
    validation: BatchIterator | None,
    *,
    epoch: int,
    learning_rate: float,
    weight_decay: float,
    diagnostics: bool,
    progress: ProgressBar,
    dropout: DropoutMasks | None = None,
) -> tuple[EpochRecord, bool]:
    """Train ``network`` for one epoch at ``learning_rate`` and measure it.

    Parameters
    ----------
    network : Network
    optimizer : Optimizer
    batches : BatchIterator
        The training batches (shuffled anew by each pass).
    validation : BatchIterator, optional
        Scored after the epoch's last step.
    epoch : int
        The 1-based number of the epoch, for its record.
    learning_rate : float
        Set on the optimiser for the epoch.
    weight_decay : float
        L2 coefficient ``lambda``.
    diagnostics : bool
        Measure mean ``|delta|`` and saturation per layer.
    progress : ProgressBar
        Counts the batches.
    dropout : DropoutMasks, optional
        [dropout] on the hidden layers during the steps (never when scoring).

    Returns
    -------
    record : EpochRecord
    finite : bool
        Whether every measured value is finite (false: the run diverged).
    """
    xp = network.xp
    optimizer.learning_rate = learning_rate
    t0 = time.perf_counter()
    sums = _Sums(network, diagnostics)
    step = step_function(network, optimizer)  # a library's fast path where there is one
    if dropout is not None:
        dropout.start_epoch(epoch)
    for X, Y in batches:
        if dropout is None:
            grads = step(X, Y, weight_decay)
        else:  # the standard path, with this batch's [dropout] masks
            masks = dropout.masks(int(X.shape[0]))
            grads = propagation.backprop(network, X, Y, weight_decay, masks)
            network.apply_gradients(optimizer, grads)
        sums.add(grads, Y)
        progress.update(1)
    scalars = sums.scalars()
    if validation is not None:
        scalars += list(score_batches(network, validation))
    # The one device-to-host read of the epoch.
    values = [float(v) for v in to_numpy(xp.stack(scalars)).tolist()]
    seconds = time.perf_counter() - t0
    record = _record(values, epoch, learning_rate, seconds, sums, batches, validation)
    return record, all(math.isfinite(v) for v in values)


def _record(
    values: list[float],
    epoch: int,
    learning_rate: float,
    seconds: float,
    sums: _Sums,
    batches: BatchIterator,
    validation: BatchIterator | None,
) -> EpochRecord:
    """The epoch's record from the host ``values`` of :meth:`_Sums.scalars` (+ validation)."""
    n_seen = max(batches.n_samples, 1)
    record = EpochRecord(
        epoch=epoch,
        train_cost=float(values[0] / n_seen),
        train_accuracy=float(values[1] / n_seen),
        learning_rate=learning_rate,
        seconds=seconds,
    )
    L, n_batches = len(sums.deltas), sums.n_batches
    if sums.diagnostics and n_batches:
        record.mean_abs_delta = [float(v / n_batches) for v in values[2 : 2 + L]]
        record.saturation = [float(v / n_batches) for v in values[2 + L : 2 + 2 * L]]
        record.dead_units = values[2 + 2 * L : 2 + 2 * L + len(sums.active)]
    if validation is not None:
        n_val = max(validation.n_samples, 1)
        record.validation_cost = float(values[-2] / n_val)
        record.validation_accuracy = float(values[-1] / n_val)
    return record
