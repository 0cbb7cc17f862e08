"""Hyper-parameter tuning with Optuna.

``space`` (what is searched), ``samplers`` (Gaussian process first), ``storage`` (where a
study lives, and the exact trial count), ``objective`` (what one trial trains and scores),
``search`` (:func:`tune`, the loop over trials), ``results`` (the result, its JSON, plots).
"""

from .objective import retrain_and_test
from .results import TuneResult, save_plots, write_json
from .samplers import SAMPLERS, make_sampler
from .search import DEFAULT_STUDY_NAME, tune
from .space import DEFAULT_SPACE, Choice, FloatRange, IntRange, SearchSpace, build
from .storage import DEFAULT_STORAGE, StudyCounts, TuningError, count_trials, open_storage

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
