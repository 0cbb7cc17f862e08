"""What one trial does: train a sampled configuration and score it on the validation split.

Also the final step of a search: the best configuration retrained on training + validation
data and tested once (:func:`retrain_and_test`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import Backend
from ..experiments import DataSplits
from ..metrics import evaluate
from ..training import DivergenceError, EpochRecord, train
from .space import SearchSpace, build
from .storage import import_optuna, takes_place

if TYPE_CHECKING:  # optuna is an optional dependency, imported when a study runs
    import optuna

__all__ = ["TRIAL_ERRORS", "Objective", "SurplusError", "TrialFailedError", "retrain_and_test"]

#: Errors of one trial that are recorded as a failed trial while the study continues.
TRIAL_ERRORS: tuple[type[BaseException], ...] = (DivergenceError, FloatingPointError, MemoryError)


class TrialFailedError(Exception):
    """Internal: a trial failed in a way that must not stop the study."""


class SurplusError(Exception):
    """Internal: the study already had its trials when this one was created."""


def _n_classes(data: DataSplits) -> int:
    labels = [data.train_labels, data.test_labels]
    if data.validation_labels is not None:
        labels.append(data.validation_labels)
    return int(max(int(np.max(y)) for y in labels if y.size)) + 1


class Objective:
    """The objective of a trial: the last epoch's validation accuracy of its network.

    Sets ``surplus`` when the study already had its ``n_trials`` counting trials before this
    one (two workers raced for the last place); such a trial ends with :class:`SurplusError`.
    """

    def __init__(
        self,
        data: DataSplits,
        space: SearchSpace,
        epochs: int,
        seed: int,
        backend: Backend,
        n_trials: int,
    ) -> None:
        if data.validation is None:
            raise ValueError("tuning needs a validation split (validation_size > 0)")
        self.data, self.space, self.epochs, self.seed = data, space, epochs, seed
        self.backend, self.n_trials = backend, n_trials
        self.n_inputs = int(np.prod(data.train_images.shape[1:]))
        self.n_classes = _n_classes(data)
        self.surplus = False

    def __call__(self, trial: optuna.Trial) -> float:
        optuna = import_optuna()
        earlier = [
            t
            for t in trial.study.get_trials(deepcopy=False)
            if t.number < trial.number and takes_place(t)
        ]
        if len(earlier) >= self.n_trials:
            self.surplus = True
            trial.set_user_attr("surplus", True)
            trial.set_user_attr("fail_reason", "surplus: the study already had its trials")
            raise SurplusError
        config = self.space.sample(trial)
        trial.set_user_attr("config", config)
        spec, training = build(config, self.n_inputs, self.n_classes, self.epochs, self.seed)

        def report(record: EpochRecord) -> None:
            value = float(record.validation_accuracy or 0.0)
            trial.report(value, record.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation accuracy {value:.4f} in epoch {record.epoch}")

        try:
            network = spec.build(self.backend)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                # a diverging trial overflows before DivergenceError ends it
                history = train(
                    network,
                    self.data.train_images,
                    self.data.train_labels,
                    validation=self.data.validation,
                    config=training,
                    progress=False,
                    diagnostics=False,
                    callback=report,
                )
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("fail_reason", "interrupted: KeyboardInterrupt")
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}")
            if _is_trial_error(exc):
                raise TrialFailedError(str(exc)) from exc
            raise  # a bug or bad input: recorded, then the worker stops
        if not history.records:
            raise ValueError("tuning needs epochs >= 1")
        return float(history.records[-1].validation_accuracy or 0.0)


def _is_trial_error(exc: BaseException) -> bool:
    """Whether ``exc`` ends one trial (divergence, out of memory) rather than the study."""
    if isinstance(exc, TRIAL_ERRORS):
        return True
    text = f"{type(exc).__name__} {exc}".lower()  # e.g. CUDA/cuBLAS allocation failures
    return any(m in text for m in ("outofmemory", "out of memory", "alloc_failed"))


def retrain_and_test(
    data: DataSplits,
    params: Mapping[str, Any],
    *,
    epochs: int,
    seed: int = 0,
    backend: str | ModuleType | Backend = "numpy",
) -> tuple[Any, float]:
    """Train ``params`` on training + validation data; return the network and test accuracy."""
    images, labels = data.train_images, data.train_labels
    if data.validation is not None:
        images = np.concatenate([images, data.validation[0]])
        labels = np.concatenate([labels, data.validation[1]])
    n_inputs = int(np.prod(images.shape[1:]))
    spec, training = build(params, n_inputs, _n_classes(data), epochs, seed)
    network = spec.build(backend)
    train(network, images, labels, config=training, progress=False, diagnostics=False)
    return network, float(evaluate(network, data.test_images, data.test_labels).accuracy)
