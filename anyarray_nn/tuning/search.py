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

import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..backend import Backend, resolve_backend
from ..experiments import DataSplits
from .objective import Objective, SurplusError, TrialFailedError, retrain_and_test
from .results import TuneResult
from .samplers import make_sampler
from .settings import check_settings, study_settings
from .space import SearchSpace
from .storage import (
    DEFAULT_STORAGE,
    StudyCounts,
    TuningError,
    count_trials,
    describe_storage,
    fail_interrupted_trials,
    heartbeat_enabled,
    import_optuna,
    is_storage_error,
    open_storage,
    storage_failure,
)

if TYPE_CHECKING:  # optuna is an optional dependency, imported when a study runs
    import optuna

__all__ = ["DEFAULT_STUDY_NAME", "tune"]

DEFAULT_STUDY_NAME = "anyarray-nn"


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
    enqueue: Sequence[Mapping[str, Any]] = (),
    settings: dict[str, Any] | None = None,
) -> optuna.Study:
    """Create or load the study; a new one gets the ``enqueue`` trials first.

    A study records ``settings`` and may be joined only with the same (see
    :func:`~anyarray_nn.tuning.settings.check_settings`).
    """
    optuna = import_optuna()
    try:
        study = optuna.create_study(
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
    except Exception as exc:  # a damaged or read-only database, a lost connection
        if not is_storage_error(exc):
            raise
        raise TuningError(storage_failure(storage, exc)) from exc
    if settings is not None:
        where = describe_storage(os.fspath(storage) if storage else DEFAULT_STORAGE)
        check_settings(study, settings, where)
    if enqueue and not study.get_trials(deepcopy=False):
        for params in enqueue:
            study.enqueue_trial(dict(params), skip_if_exists=True)
    return study


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
    resumes the study.  A study remembers its data, epochs, seed and search space; joining
    it with others raises :class:`TuningError` (use another ``study_name``).

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
    import_optuna()  # fails first, with the install hint, when Optuna is missing
    _check_arguments(n_trials, epochs, timeout)
    n_trials, epochs, seed = int(n_trials), int(epochs), int(seed)
    say = log or (lambda line: None)
    resolved = resolve_backend(backend, device)
    sampler_obj, sampler_line, pruner = _sampler_and_pruner(sampler, seed, n_trials, pruning)
    shown_storage = describe_storage(os.fspath(storage) if storage else DEFAULT_STORAGE)
    say(sampler_line)
    with _optuna_quiet():  # one line per trial comes from `say`
        settings = study_settings(data, epochs, seed, space or SearchSpace())
        study = _load_study(storage, study_name, sampler_obj, pruner, enqueue, settings)
        objective = Objective(data, space or SearchSpace(), epochs, seed, resolved, n_trials)
        counts = count_trials(study)
        say(
            f"study {study_name!r} in {shown_storage}: {counts.finished} of {n_trials} trials "
            f"finished, {counts.running} running"
        )
        seconds = _search(study, objective, n_trials, timeout, say)
    best, counts = _best_trial(study, say)
    result = TuneResult(
        study_name=study_name,
        storage=shown_storage,
        sampler=sampler_line.split(":", 1)[1].split("(")[0].strip(),
        best_trial=int(best.number),
        best_params=dict(best.user_attrs.get("config") or best.params),
        best_validation_accuracy=float(best.value),
        test_accuracy=None,
        counts=counts,
        seconds=seconds,
        epochs=epochs,
        study=study,
    )
    if retrain:
        result.network, result.test_accuracy = retrain_and_test(
            data, result.best_params, epochs=epochs, seed=seed, backend=resolved
        )
        n_images = sum(data.sizes()[k] for k in ("train", "validation"))
        say(
            f"best configuration retrained on {n_images} images: "
            f"test accuracy {result.test_accuracy:.4f}"
        )
    return result


def _check_arguments(n_trials: int, epochs: int, timeout: float | None) -> None:
    if int(n_trials) < 1:
        raise ValueError(f"n_trials must be >= 1, not {n_trials}")
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, not {epochs}")
    if timeout is not None and not float(timeout) > 0:
        raise ValueError(f"timeout must be > 0 seconds, not {timeout}")


def _sampler_and_pruner(
    sampler: str, seed: int, n_trials: int, pruning: bool
) -> tuple[Any, str, Any]:
    """The sampler, the line that describes it, and the pruner (median, or none)."""
    optuna = import_optuna()
    startup = max(2, min(10, n_trials // 3))
    sampler_obj, sampler_line = make_sampler(sampler, seed=seed, n_startup_trials=startup)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=min(5, startup))
        if pruning
        else optuna.pruners.NopPruner()
    )
    return sampler_obj, sampler_line, pruner


@contextmanager
def _optuna_quiet() -> Iterator[None]:
    """Silence Optuna's own log below errors, and restore its level afterwards."""
    optuna = import_optuna()
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _best_trial(study: optuna.Study, say: Callable[[str], None]) -> tuple[Any, StudyCounts]:
    """The best trial and the study's counts, once the search is over.

    Raises
    ------
    TuningError
        No trial of the study completed.
    """
    counts = count_trials(study)
    say(
        f"{counts.finished} trials finished: {counts.complete} complete, {counts.pruned} "
        f"pruned, {counts.failed} failed"
        + (f" ({counts.interrupted} interrupted)" if counts.interrupted else "")
    )
    if counts.complete == 0:
        raise TuningError(
            f"no trial of study {study.study_name!r} completed; see the failure reasons above "
            "(try a narrower learning-rate range)"
        )
    best = study.best_trial
    config = dict(best.user_attrs.get("config") or best.params)
    say(f"best trial {best.number}: validation accuracy {best.value:.4f}  {config}")
    return best, counts


def _search(
    study: optuna.Study,
    objective: Objective,
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
                catch=(TrialFailedError, SurplusError),
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
