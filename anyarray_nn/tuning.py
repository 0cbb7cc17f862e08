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

import copy
import importlib
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import Backend, resolve_backend
from .experiment import DataSplits, NetworkSpec
from .metrics import evaluate
from .training import DivergenceError, EpochRecord, TrainingConfig, train

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
    "count_trials",
    "make_sampler",
    "open_storage",
    "save_plots",
    "tune",
]

#: Embedded storage used when none is given: a journal file in the current folder.
DEFAULT_STORAGE = "anyarray-nn-tune.journal"
DEFAULT_STUDY_NAME = "anyarray-nn"
SAMPLERS = ("gp", "tpe", "random")
#: Heartbeat of trials in SQLAlchemy storages (seconds) and the silence after which a
#: running trial of another machine is declared interrupted.
HEARTBEAT_INTERVAL = 10
HEARTBEAT_GRACE = 60
#: Errors of one trial that are recorded as a failed trial while the study continues.
TRIAL_ERRORS: tuple[type[BaseException], ...] = (DivergenceError, FloatingPointError, MemoryError)


class TuningError(RuntimeError):
    """A hyper-parameter search cannot run (missing extra, bad storage, nothing completed)."""


class _TrialFailedError(Exception):
    """Internal: a trial failed in a way that must not stop the study."""


class _SurplusError(Exception):
    """Internal: the study already had its trials when this one was created."""


# --- search space ------------------------------------------------------------------------


@dataclass(frozen=True)
class FloatRange:
    """A float drawn from ``[low, high]``, on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntRange:
    """An integer drawn from ``[low, high]``, on a log scale when ``log``."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of ``choices``; a single choice is a fixed value (not searched)."""

    choices: tuple[Any, ...]


Spec = FloatRange | IntRange | Choice

#: The default search space (SGD with momentum, as in the paper).
DEFAULT_SPACE: dict[str, Spec] = {
    "learning_rate": FloatRange(1e-3, 0.5, log=True),
    "weight_decay": FloatRange(1e-6, 1e-2, log=True),
    "hidden_layers": IntRange(1, 2),
    "hidden_units": IntRange(32, 512, log=True),
    "batch_size": IntRange(16, 256, log=True),
    "optimizer": Choice(("momentum",)),
    "momentum": FloatRange(0.5, 0.99),
    "activation": Choice(("relu", "tanh", "sigmoid")),
}
_OPTIMIZERS = ("sgd", "momentum", "adam")
_ACTIVATIONS = ("relu", "tanh", "sigmoid")


def _check_spec(name: str, spec: Spec) -> None:
    if isinstance(spec, (FloatRange, IntRange)):
        if not (math.isfinite(spec.low) and math.isfinite(spec.high) and spec.low < spec.high):
            raise ValueError(f"{name}: the range needs low < high, got {spec.low}:{spec.high}")
        if spec.log and spec.low <= 0:
            raise ValueError(f"{name}: a log-scale range needs low > 0, got {spec.low}")
    elif not spec.choices:
        raise ValueError(f"{name}: at least one choice is needed")
    values = [spec.low, spec.high] if isinstance(spec, (FloatRange, IntRange)) else spec.choices
    for value in values:
        if name == "activation" and value not in _ACTIVATIONS:
            raise ValueError(
                f"activation: unknown {value!r}; choose from {', '.join(_ACTIVATIONS)}"
            )
        if name == "optimizer" and value not in _OPTIMIZERS:
            raise ValueError(f"optimizer {value!r}: choose from {', '.join(_OPTIMIZERS)}")
        if name in ("hidden_layers", "hidden_units", "batch_size") and int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
        if name in ("learning_rate",) and float(value) <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
        if name in ("weight_decay", "momentum") and float(value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


@dataclass(frozen=True)
class SearchSpace:
    """The hyper-parameters searched: :data:`DEFAULT_SPACE` with user overrides.

    Examples
    --------
    >>> space = SearchSpace.from_overrides(["hidden_units=64", "learning_rate=0.01:0.3"])
    >>> space.specs["hidden_units"], space.specs["learning_rate"]
    (Choice(choices=(64,)), FloatRange(low=0.01, high=0.3, log=True))
    """

    specs: Mapping[str, Spec] = field(default_factory=lambda: dict(DEFAULT_SPACE))

    def __post_init__(self) -> None:
        unknown = sorted(set(self.specs) - set(DEFAULT_SPACE))
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter(s) {', '.join(unknown)}; "
                f"choose from {', '.join(DEFAULT_SPACE)}"
            )
        specs = {**DEFAULT_SPACE, **self.specs}
        for name, spec in specs.items():
            _check_spec(name, spec)
        object.__setattr__(self, "specs", specs)

    def with_overrides(self, overrides: Mapping[str, Spec | str]) -> SearchSpace:
        """A copy with some parameters replaced (a spec, or its text as in :meth:`parse`)."""
        specs = dict(self.specs)
        for name, value in overrides.items():
            if name not in DEFAULT_SPACE:
                raise ValueError(
                    f"unknown hyper-parameter {name!r}; choose from {', '.join(DEFAULT_SPACE)}"
                )
            specs[name] = self.parse(name, value) if isinstance(value, str) else value
        return SearchSpace(specs)

    @classmethod
    def from_overrides(cls, items: Sequence[str]) -> SearchSpace:
        """Build from ``NAME=SPEC`` strings (the command line's ``--param``)."""
        overrides: dict[str, str] = {}
        for item in items:
            name, sep, text = item.partition("=")
            if not sep or not name.strip() or not text.strip():
                raise ValueError(
                    f"--param {item!r}: expected NAME=VALUE, NAME=LOW:HIGH or NAME=A,B"
                )
            overrides[name.strip()] = text.strip()
        return cls().with_overrides(overrides)

    @staticmethod
    def parse(name: str, text: str) -> Spec:
        """``"V"`` (fixed), ``"LOW:HIGH"`` (range, log scale as the default) or ``"A,B,C"``."""
        default = DEFAULT_SPACE[name]
        kind: Callable[[str], Any]
        if isinstance(default, FloatRange):
            kind = float
        elif isinstance(default, IntRange):
            kind = int
        else:
            kind = str
        try:
            if ":" in text:
                if kind is str:
                    raise ValueError(f"{name} takes choices A,B,..., not a range")
                low, high = (kind(part) for part in text.split(":", 1))
                log = getattr(default, "log", False)
                return FloatRange(low, high, log) if kind is float else IntRange(low, high, log)
            return Choice(tuple(kind(part.strip()) for part in text.split(",")))
        except ValueError as exc:
            raise ValueError(f"--param {name}={text}: {exc}") from exc

    def sample(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Draw one configuration (fixed values included) from ``trial``."""
        config: dict[str, Any] = {}
        for name, spec in self.specs.items():
            if name == "momentum" and config["optimizer"] != "momentum":
                continue
            config[name] = _suggest(trial, name, spec)
        return config


def _suggest(trial: optuna.trial.BaseTrial, name: str, spec: Spec) -> Any:
    if isinstance(spec, FloatRange):
        return float(trial.suggest_float(name, float(spec.low), float(spec.high), log=spec.log))
    if isinstance(spec, IntRange):
        return int(trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log))
    if len(spec.choices) == 1:
        return spec.choices[0]
    return trial.suggest_categorical(name, list(spec.choices))


def build(
    config: Mapping[str, Any], n_inputs: int, n_classes: int, epochs: int, seed: int
) -> tuple[NetworkSpec, TrainingConfig]:
    """The network and training configuration of a sampled hyper-parameter ``config``."""
    hidden = [int(config["hidden_units"])] * int(config["hidden_layers"])
    activation = str(config["activation"])
    spec = NetworkSpec(
        sizes=(n_inputs, *hidden, n_classes),
        activation=activation,
        init="he" if activation == "relu" else "lecun",
        seed=seed,
    )
    training = TrainingConfig(
        epochs=epochs,
        batch_size=int(config["batch_size"]),
        optimizer=str(config["optimizer"]),
        learning_rate=float(config["learning_rate"]),
        momentum=float(config.get("momentum", 0.9)),
        weight_decay=float(config["weight_decay"]),
        seed=seed,
    )
    return spec, training


# --- optuna plumbing -----------------------------------------------------------------------


def _optuna() -> ModuleType:
    try:
        return importlib.import_module("optuna")
    except ImportError as exc:
        raise TuningError(
            "hyper-parameter tuning needs Optuna: pip install 'anyarray-nn[tune]'"
        ) from exc


def gp_available() -> str | None:
    """``None`` when the Gaussian-process sampler can run, else why not."""
    missing = []
    for module in ("scipy", "torch"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        return f"{' and '.join(missing)} not installed"
    return None


class _PrunedAsComplete:
    """A view of a study in which pruned trials look complete, valued at their last epoch.

    Optuna's ``GPSampler`` learns only from complete trials: without this view it proposes
    the configuration of a pruned trial again and again.  Like Optuna's CMA-ES sampler with
    ``consider_pruned_trials``, the model sees a pruned trial at its last reported validation
    accuracy, a pessimistic value that steers the search away.  The storage is not changed.
    """

    def __init__(self, study: Any) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _convert(self, trials: list[Any], states: Any) -> list[Any]:
        state = _optuna().trial.TrialState
        out = []
        for t in trials:
            if t.state == state.PRUNED and t.intermediate_values:
                t = copy.copy(t)
                t.state = state.COMPLETE
                t.value = float(t.intermediate_values[max(t.intermediate_values)])
            if states is None or t.state in states:
                out.append(t)
        return out

    def _get_trials(
        self, deepcopy: bool = True, states: Any = None, use_cache: bool = False
    ) -> list[Any]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=None, use_cache=use_cache)
        return self._convert(trials, states)

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[Any]:
        return self._convert(self._study.get_trials(deepcopy=deepcopy, states=None), states)

    @property
    def trials(self) -> list[Any]:
        return self.get_trials()


def _per_trial_seed_sampler(
    factory: Callable[[int | None], Any], seed: int | None, *, pruned_as_complete: bool = False
) -> Any:
    """A sampler re-created for each trial with a seed drawn from ``(seed, trial number)``.

    Trial numbers are unique across the workers of a study, so workers started with the same
    ``--seed`` do not propose the same configurations, while a single worker stays
    reproducible.  With ``pruned_as_complete`` the inner sampler sees the study through
    :class:`_PrunedAsComplete`.
    """
    optuna = _optuna()

    def view(study: Any) -> Any:
        return _PrunedAsComplete(study) if pruned_as_complete else study

    class PerTrialSeed(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.inner = factory(seed)

        def __str__(self) -> str:
            return type(self.inner).__name__

        def before_trial(self, study: Any, trial: Any) -> None:
            # Who runs the trial, recorded before sampling (which may take a while), so that
            # the trial of a worker killed at any point is recognised as interrupted.
            study._storage.set_trial_user_attr(trial._trial_id, "worker", _worker_identity())
            if seed is not None:
                entropy = np.random.SeedSequence([int(seed), int(trial.number)])
                self.inner = factory(int(entropy.generate_state(1)[0]))
            self.inner.before_trial(view(study), trial)

        def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
            return self.inner.infer_relative_search_space(view(study), trial)

        def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
            return self.inner.sample_relative(view(study), trial, search_space)

        def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
            return self.inner.sample_independent(view(study), trial, name, dist)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            self.inner.after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self.inner.reseed_rng()

    return PerTrialSeed()


def make_sampler(
    name: str = "gp", *, seed: int | None = 0, n_startup_trials: int = 10
) -> tuple[Any, str]:
    """An Optuna sampler by name, and a line saying which one is used.

    Parameters
    ----------
    name : {"gp", "tpe", "random"}
        ``"gp"``: Gaussian-process Bayesian optimisation (``GPSampler``, needs torch and
        scipy; falls back to TPE with a message when they are missing).
    seed : int or None
    n_startup_trials : int
        Random trials before the model-based sampler takes over.
    """
    optuna = _optuna()
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    note = ""
    if name == "gp":
        why = gp_available()
        if why is not None:
            note = f" (the GP sampler needs torch and scipy: {why}; falling back to TPE)"
            name = "tpe"
    factory: Callable[[int | None], Any]
    if name == "gp":

        def factory(s: int | None) -> Any:
            return optuna.samplers.GPSampler(
                seed=s, n_startup_trials=n_startup_trials, warn_independent_sampling=False
            )

        line = "sampler: GPSampler (Gaussian-process Bayesian optimisation)"
    elif name == "tpe":

        def factory(s: int | None) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(
                    seed=s, n_startup_trials=n_startup_trials, multivariate=True, constant_liar=True
                )

        line = "sampler: TPESampler (tree-structured Parzen estimator)" + note
    else:

        def factory(s: int | None) -> Any:
            return optuna.samplers.RandomSampler(seed=s)

        line = "sampler: RandomSampler"
    return _per_trial_seed_sampler(factory, seed, pruned_as_complete=name == "gp"), line


def _is_url(storage: str) -> bool:
    return "://" in storage


def describe_storage(storage: str) -> str:
    """``storage`` for printing, with any password hidden."""
    if not _is_url(storage):
        return storage
    try:
        from sqlalchemy.engine import make_url

        return make_url(storage).render_as_string(hide_password=True)
    except Exception:
        return storage.split("://", 1)[0] + "://..."


#: Errors of workers that create the tables of a new database at the same time.
_CREATION_RACE = ("constraint", "already exists", "duplicate", "locked")


class _FlockLock:
    """Lock of a journal file that the OS releases when its process dies (``flock``).

    Optuna's default journal lock is a symbolic link that a killed worker leaves behind;
    the others then wait 30 s before they break it.  A worker killed while it writes (it
    writes after every epoch) must not stall the study.
    """

    def __init__(self, journal: str) -> None:
        self._path = journal + ".flock"
        self._fd: int | None = None

    @staticmethod
    def usable() -> bool:
        try:
            importlib.import_module("fcntl")
        except ImportError:  # Windows: Optuna's own lock
            return False
        return True

    def acquire(self) -> bool:
        import fcntl

        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        import fcntl

        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def open_storage(storage: str | os.PathLike[str] | None = None, *, heartbeat: bool = True) -> Any:
    """Open an Optuna storage.

    Parameters
    ----------
    storage : str or path, optional
        A SQLAlchemy URL (``sqlite:///study.db``, ``postgresql+psycopg2://user@host/db``),
        a ``.db``/``.sqlite``/``.sqlite3`` file (SQLite), or any other file name (an Optuna
        journal file, safe for several processes on one machine).  Default:
        :data:`DEFAULT_STORAGE`.
    heartbeat : bool
        SQLAlchemy storages: record a heartbeat of running trials, so that the trial of a
        worker that died on another machine is noticed and replaced.

    Raises
    ------
    TuningError
        The storage cannot be opened (the message says why).
    """
    optuna = _optuna()
    text = os.fspath(storage) if storage is not None else DEFAULT_STORAGE
    if not _is_url(text) and Path(text).suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        text = "sqlite:///" + str(Path(text).resolve())
    if not _is_url(text):
        path = Path(text)
        if path.is_dir():
            raise TuningError(f"storage {text!r} is a folder; give a file name")
        if not path.parent.is_dir():
            raise TuningError(f"storage {text!r}: folder {str(path.parent)!r} does not exist")
        from optuna.storages.journal import JournalFileBackend

        lock = _FlockLock(str(path)) if _FlockLock.usable() else None
        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    kwargs: dict[str, Any] = {}
    if text.startswith("sqlite"):
        # Several writers take turns; wait for the lock rather than fail.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    if heartbeat:
        kwargs.update(heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=HEARTBEAT_GRACE)
    try:
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(text, **kwargs)
            except Exception as exc:
                # Workers started together race to create the tables: try again.
                text_lower = repr(exc).lower()
                if attempt == 4 or not any(m in text_lower for m in _CREATION_RACE):
                    raise
                time.sleep(0.2 + 0.3 * attempt)
        raise AssertionError("unreachable")
    except ImportError as exc:
        raise TuningError(
            f"storage {describe_storage(text)}: a driver is missing ({exc}); "
            "pip install 'anyarray-nn[tune]'"
        ) from exc
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TuningError(f"cannot open storage {describe_storage(text)}: {reason}") from exc


# --- counting and liveness -------------------------------------------------------------------


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux), to tell a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _worker_identity() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _process_start(pid)}


def _worker_is_dead(worker: Any) -> bool:
    """True only when ``worker`` ran on this machine and its process is gone."""
    if not isinstance(worker, dict) or worker.get("host") != socket.gethostname():
        return False
    pid = int(worker.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    start = worker.get("start")
    return start is not None and _process_start(pid) not in (None, start)


def fail_interrupted_trials(study: optuna.Study) -> list[int]:
    """Close the running trials whose worker died; return their numbers."""
    optuna = _optuna()
    state = optuna.trial.TrialState
    closed = []
    for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        if not _worker_is_dead(t.user_attrs.get("worker")):
            continue
        storage = study._storage
        try:
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            storage.set_trial_user_attr(
                t._trial_id,
                "fail_reason",
                f"interrupted: worker process {t.user_attrs['worker'].get('pid')} stopped",
            )
            storage.set_trial_state_values(t._trial_id, state.FAIL)
            closed.append(t.number)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            pass  # another worker closed it first
    return closed


def _counts_as_failed(t: Any) -> bool:
    attrs = t.user_attrs
    return (
        bool(attrs.get("fail_reason")) and not attrs.get("interrupted") and not attrs.get("surplus")
    )


def _counts(t: Any) -> bool:
    """Whether trial ``t`` takes one of the study's ``n_trials`` places."""
    name = t.state.name
    if name in ("COMPLETE", "PRUNED", "RUNNING", "WAITING"):
        return True
    return name == "FAIL" and _counts_as_failed(t)


@dataclass(frozen=True)
class StudyCounts:
    """Trials of a whole study by outcome."""

    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int
    interrupted: int
    surplus: int

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.failed

    @property
    def taken(self) -> int:
        """Places of ``n_trials`` taken: finished, running or waiting."""
        return self.finished + self.running + self.waiting


def count_trials(study: optuna.Study) -> StudyCounts:
    """Count the trials of ``study`` (all workers) by outcome."""
    values = dict.fromkeys(
        ("complete", "pruned", "failed", "running", "waiting", "interrupted", "surplus"), 0
    )
    for t in study.get_trials(deepcopy=False):
        name = t.state.name
        if name == "FAIL":
            if t.user_attrs.get("surplus"):
                values["surplus"] += 1
            elif _counts_as_failed(t):
                values["failed"] += 1
            else:
                values["interrupted"] += 1
        elif name.lower() in values:
            values[name.lower()] += 1
    return StudyCounts(**values)


# --- the search -----------------------------------------------------------------------------


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
        log: Callable[[str], None],
    ) -> None:
        if data.validation is None:
            raise ValueError("tuning needs a validation split (validation_size > 0)")
        self.data, self.space, self.epochs, self.seed = data, space, epochs, seed
        self.backend, self.n_trials, self.log = backend, n_trials, log
        self.n_inputs = int(np.prod(data.train_images.shape[1:]))
        self.n_classes = _n_classes(data)
        self.surplus = False

    def __call__(self, trial: optuna.Trial) -> float:
        optuna = _optuna()
        earlier = [
            t
            for t in trial.study.get_trials(deepcopy=False)
            if t.number < trial.number and _counts(t)
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
    optuna = _optuna()
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
        (:func:`anyarray_nn.experiment.prepare_data` with ``validation_size``).
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
    optuna = _optuna()
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
        objective = _Objective(data, space, int(epochs), int(seed), resolved, int(n_trials), say)
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
    optuna = _optuna()

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
            if _heartbeat(study):
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


def _heartbeat(study: optuna.Study) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return bool(is_heartbeat_enabled(study._storage))


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
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise TuningError("plots need matplotlib: pip install 'anyarray-nn[plot]'") from exc
    optuna = _optuna()
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
