"""Samplers of hyper-parameter tuning: Gaussian process (the paper's method), TPE, random.

:func:`make_sampler` wraps Optuna's sampler so that each trial gets a seed drawn from the
study seed and the trial number (workers of one study do not repeat each other), and shows
the Gaussian-process sampler pruned trials at their last validation accuracy.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .storage import import_optuna, worker_identity

__all__ = ["SAMPLERS", "gp_available", "make_sampler"]

SAMPLERS = ("gp", "tpe", "random")


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
        state = import_optuna().trial.TrialState
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
    optuna = import_optuna()

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
            study._storage.set_trial_user_attr(trial._trial_id, "worker", worker_identity())
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
    optuna = import_optuna()
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
            kwargs: dict[str, Any] = {"seed": s, "n_startup_trials": n_startup_trials}
            if (
                "warn_independent_sampling"
                in inspect.signature(optuna.samplers.GPSampler).parameters
            ):
                kwargs["warn_independent_sampling"] = False  # momentum is conditional
            return optuna.samplers.GPSampler(**kwargs)

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
