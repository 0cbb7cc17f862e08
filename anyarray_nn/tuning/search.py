"""Bayesian hyper-parameter optimisation with Optuna (the ``tune`` extra).

The objective of a trial is the **validation** accuracy of a network trained with the
trial's hyper-parameters on the training split; the validation accuracy of every epoch is
reported so that a pruner stops poor trials early.  After the search the best configuration
is retrained on the full training set (training + validation split) and evaluated once on
the test set.

A study lives in a storage: by default a journal file (Optuna's ``JournalFileBackend``,
safe for several processes on one machine), else a SQLite file or any SQLAlchemy URL
(PostgreSQL, MySQL) for workers on many machines.  ``n_trials`` counts the trials of the
whole study: several workers started with the same command finish exactly that many
trials between them, and a study interrupted by a crash is resumed by running the same
command again.

How the count is kept exact
---------------------------
A trial *counts* when it is complete, pruned, failed in the objective (divergence, out of
memory: its reason is the user attribute ``fail_reason``), running in a live worker, or
waiting.  Trial numbers are assigned atomically by the storage.  A worker starts a trial only
while fewer than ``n_trials`` trials count, and a started trial preceded by ``n_trials``
counting trials (two workers raced for the last place) is closed at once as a ``FAIL`` with
the user attribute ``surplus``.  A trial whose worker died is closed as a ``FAIL`` with the
user attribute ``interrupted`` (same machine: its process is gone; SQLAlchemy storages: its
heartbeat stopped), stops counting, and is replaced.  Surplus and interrupted trials are not
in ``n_failed``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import Backend, resolve_backend
from ..experiments import DataSplits
from ..metrics import evaluate
from ..training import DivergenceError, EpochRecord, train
from .samplers import SAMPLERS, make_sampler
from .space import DEFAULT_SPACE, Choice, FloatRange, IntRange, SearchSpace, build
from .storage import (
    DEFAULT_STORAGE,
    StudyCounts,
    TuningError,
    count_trials,
    describe_storage,
    fail_interrupted_trials,
    heartbeat_enabled,
    import_optuna,
    open_storage,
    takes_place,
)

if TYPE_CHECKING:  # optuna is an optional dependency, imported when a study runs
    import optuna

__all__ = [
    "DEFAULT_SPACE",
    "DEFAULT_STORAGE",
    "DEFAULT_STUDY_NAME",
    "SAMPLERS",
    "Choice",
    "FloatRange",
    "IntRange",
    "SearchSpace",
    "StudyCounts",
    "TuneResult",
    "TuningError",
    "build",
    "count_trials",
    "make_sampler",
    "open_storage",
    "retrain_and_test",
    "save_plots",
    "tune",
    "write_json",
]

DEFAULT_STUDY_NAME = "anyarray-nn"
#: Errors of one trial that are recorded as a failed trial while the study continues.
TRIAL_ERRORS: tuple[type[BaseException], ...] = (DivergenceError, FloatingPointError, MemoryError)


class _TrialFailedError(Exception):
    """Internal: a trial failed in a way that must not stop the study."""


class _SurplusError(Exception):
    """Internal: the study already had its trials when this one was created."""


@dataclass
class TuneResult:
    """Outcome of :func:`tune`.

    Attributes
    ----------
    best_params : dict
        The complete hyper-parameter configuration of the best trial (fixed values included).
    best_validation_accuracy : float
    test_accuracy : float or None
        The best configuration retrained on training + validation data, evaluated once on
        the test set (``None`` when ``retrain=False``).
    counts : StudyCounts
        Over the whole study (every worker).
    seconds : float
        Time this worker spent in the search (without the retraining).
    network : Network or None
        The retrained network.
    study : optuna.Study
    """

    study_name: str
    storage: str
    sampler: str
    best_trial: int
    best_params: dict[str, Any]
    best_validation_accuracy: float
    test_accuracy: float | None
    counts: StudyCounts
    seconds: float
    epochs: int
    network: Any = field(default=None, repr=False)
    study: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_params": self.best_params,
            "best_validation_accuracy": self.best_validation_accuracy,
            "test_accuracy": self.test_accuracy,
            "n_complete": self.counts.complete,
            "n_pruned": self.counts.pruned,
            "n_failed": self.counts.failed,
            "n_interrupted": self.counts.interrupted,
            "best_trial": self.best_trial,
            "study_name": self.study_name,
            "storage": self.storage,
            "sampler": self.sampler,
            "epochs": self.epochs,
            "seconds": self.seconds,
        }


def _n_classes(data: DataSplits) -> int:
    labels = [data.train_labels, data.test_labels]
    if data.validation_labels is not None:
        labels.append(data.validation_labels)
    return int(max(int(np.max(y)) for y in labels if y.size)) + 1


class _Objective:
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
            raise _SurplusError
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
                raise _TrialFailedError(str(exc)) from exc
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


def _trial_line(t: Any) -> str:
    name = t.state.name
    if name == "COMPLETE":
        what = f"validation accuracy {t.value:.4f}"
    elif name == "PRUNED":
        last = max(t.intermediate_values) if t.intermediate_values else 0
        what = f"pruned after epoch {last}"
    else:
        what = "failed: " + str(t.user_attrs.get("fail_reason", "unknown reason"))
    shown = {k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in t.params.items()}
    return f"trial {t.number}: {what}  {shown}"


def _load_study(
    storage: str | os.PathLike[str] | None,
    study_name: str,
    sampler: Any,
    pruner: Any,
) -> optuna.Study:
    optuna = import_optuna()
    try:
        return optuna.create_study(
            study_name=study_name,
            storage=open_storage(storage),
            sampler=sampler,
            pruner=pruner,
            direction="maximize",
            load_if_exists=True,
        )
    except TuningError:
        raise
    except ValueError as exc:  # e.g. an existing study with another direction
        raise TuningError(f"study {study_name!r}: {exc}") from exc


def tune(
    data: DataSplits,
    *,
    n_trials: int = 20,
    timeout: float | None = None,
    epochs: int = 5,
    space: SearchSpace | None = None,
    sampler: str = "gp",
    storage: str | os.PathLike[str] | None = None,
    study_name: str = DEFAULT_STUDY_NAME,
    seed: int = 0,
    backend: str | ModuleType | Backend = "numpy",
    device: Any = None,
    pruning: bool = True,
    retrain: bool = True,
    enqueue: Sequence[Mapping[str, Any]] = (),
    log: Callable[[str], None] | None = print,
) -> TuneResult:
    """Search hyper-parameters on the validation split, then retrain the best and test it.

    Several processes calling this with the same ``storage`` and ``study_name`` share one
    study and finish ``n_trials`` trials between them; calling it again after a crash
    resumes the study.

    Parameters
    ----------
    data : DataSplits
        Training, validation (needed) and test sets on the host
        (:func:`anyarray_nn.experiments.runner.prepare_data` with ``validation_size``).
    n_trials : int
        Trials of the whole study (complete, pruned or failed; all workers together).
    timeout : float, optional
        Seconds after which this worker starts no new trial and waits for no other worker.
    epochs : int
        Epochs per trial and for the final retraining.
    space : SearchSpace, optional
        Default: :data:`DEFAULT_SPACE`.
    sampler : {"gp", "tpe", "random"}
    storage : str or path, optional
        See :func:`open_storage`; default :data:`DEFAULT_STORAGE`.
    study_name : str
    seed : int
        Seeds the sampler (per trial number), the initial weights and the batch order.
    pruning : bool
        Stop poor trials early with Optuna's ``MedianPruner`` on the per-epoch validation
        accuracy.
    retrain : bool
        Retrain the best configuration on training + validation data and evaluate it on the
        test set.
    enqueue : sequence of dict
        Parameters of trials to run first, when the study is new.
    log : callable, optional
        Receives one line per event (``print`` by default; ``None``: silent).

    Returns
    -------
    TuneResult

    Raises
    ------
    TuningError
        Optuna missing, the storage cannot be opened, or no trial completed.
    """
    optuna = import_optuna()
    say = log or (lambda line: None)
    if int(n_trials) < 1:
        raise ValueError(f"n_trials must be >= 1, not {n_trials}")
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, not {epochs}")
    if timeout is not None and not float(timeout) > 0:
        raise ValueError(f"timeout must be > 0 seconds, not {timeout}")
    space = space or SearchSpace()
    resolved = resolve_backend(backend, device)
    startup = max(2, min(10, int(n_trials) // 3))
    sampler_obj, sampler_line = make_sampler(sampler, seed=seed, n_startup_trials=startup)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=min(5, startup))
        if pruning
        else optuna.pruners.NopPruner()
    )
    shown_storage = describe_storage(os.fspath(storage) if storage else DEFAULT_STORAGE)
    say(sampler_line)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # one line per trial comes from `say`
    try:
        study = _load_study(storage, study_name, sampler_obj, pruner)
        if enqueue and not study.get_trials(deepcopy=False):
            for params in enqueue:
                study.enqueue_trial(dict(params), skip_if_exists=True)
        objective = _Objective(data, space, int(epochs), int(seed), resolved, int(n_trials))
        counts = count_trials(study)
        say(
            f"study {study_name!r} in {shown_storage}: {counts.finished} of {n_trials} trials "
            f"finished, {counts.running} running"
        )
        seconds = _search(study, objective, int(n_trials), timeout, say)
    finally:
        optuna.logging.set_verbosity(verbosity)
    counts = count_trials(study)
    say(
        f"{counts.finished} trials finished: {counts.complete} complete, {counts.pruned} "
        f"pruned, {counts.failed} failed"
        + (f" ({counts.interrupted} interrupted)" if counts.interrupted else "")
    )
    if counts.complete == 0:
        raise TuningError(
            f"no trial of study {study_name!r} completed; see the failure reasons above "
            "(try a narrower learning-rate range)"
        )
    best = study.best_trial
    best_params = dict(best.user_attrs.get("config") or best.params)
    say(f"best trial {best.number}: validation accuracy {best.value:.4f}  {best_params}")
    result = TuneResult(
        study_name=study_name,
        storage=shown_storage,
        sampler=sampler_line.split(":", 1)[1].split("(")[0].strip(),
        best_trial=int(best.number),
        best_params=best_params,
        best_validation_accuracy=float(best.value),
        test_accuracy=None,
        counts=counts,
        seconds=seconds,
        epochs=int(epochs),
        study=study,
    )
    if retrain:
        result.network, result.test_accuracy = retrain_and_test(
            data, best_params, epochs=int(epochs), seed=int(seed), backend=resolved
        )
        n_images = sum(data.sizes()[k] for k in ("train", "validation"))
        say(
            f"best configuration retrained on {n_images} images: "
            f"test accuracy {result.test_accuracy:.4f}"
        )
    return result


def _search(
    study: optuna.Study,
    objective: _Objective,
    n_trials: int,
    timeout: float | None,
    say: Callable[[str], None],
) -> float:
    """Run trials until the study has ``n_trials``; return the seconds spent."""
    optuna = import_optuna()

    def on_trial(study: optuna.Study, t: Any) -> None:
        if not t.user_attrs.get("surplus"):
            say(_trial_line(t))

    t0 = time.monotonic()

    def out_of_time() -> bool:
        return timeout is not None and time.monotonic() - t0 >= float(timeout)

    def close_interrupted() -> None:
        for number in fail_interrupted_trials(study):
            say(f"trial {number}: interrupted (its worker process stopped); it will be replaced")

    waiting_said = False
    while True:
        # Run trials while places are free.
        while not out_of_time():
            close_interrupted()
            if count_trials(study).taken >= n_trials:
                break
            objective.surplus = False
            study.optimize(
                objective,
                n_trials=1,
                catch=(_TrialFailedError, _SurplusError),
                callbacks=[on_trial],
            )
            if objective.surplus:
                break
        # Wait for the trials of other workers; take over the places of dead ones.
        while not out_of_time():
            close_interrupted()
            if heartbeat_enabled(study):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)
            counts = count_trials(study)
            if counts.running == 0 or counts.taken < n_trials:
                break
            if not waiting_said:
                say(f"waiting for {counts.running} running trial(s) of other workers")
                waiting_said = True
            time.sleep(1.0)
        if out_of_time() or count_trials(study).taken >= n_trials:
            return time.monotonic() - t0
        # else the place of a dead worker's trial was freed: run its replacement


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


def save_plots(study: optuna.Study, folder: str | os.PathLike[str]) -> list[Path]:
    """Save the optimisation history and parameter importances as PNG files in ``folder``.

    Needs matplotlib (the ``plot`` extra).  The importances need at least two complete
    trials with different parameters; without them only the history is saved.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise TuningError("plots need matplotlib: pip install 'anyarray-nn[plot]'") from exc
    optuna = import_optuna()
    from optuna.visualization import matplotlib as oplt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    makers = (
        ("optimization_history.png", oplt.plot_optimization_history),
        ("param_importances.png", oplt.plot_param_importances),
    )
    for name, make in makers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                ax = make(study, target_name="validation accuracy")
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # e.g. importances of fewer than two complete trials
        figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        path = out / name
        tmp = path.with_name(path.name + ".tmp")
        figure.savefig(tmp, format="png", dpi=100)
        plt.close(figure)
        os.replace(tmp, path)
        saved.append(path)
    return saved


def write_json(result: TuneResult, path: str | os.PathLike[str]) -> Path:
    """Write ``result.to_dict()`` as JSON, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)
    return path
