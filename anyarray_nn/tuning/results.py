"""What a search leaves behind: its result, as JSON, and its plots."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import atomic_write
from ..files import write_json as write_json_file
from .storage import StudyCounts, TuningError, import_optuna

if TYPE_CHECKING:  # optuna is an optional dependency, imported when a study runs
    import optuna

__all__ = ["TuneResult", "save_plots", "write_json"]


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
        try:
            with atomic_write(path, "wb") as file:
                figure.savefig(file, format="png", dpi=100)
        finally:
            plt.close(figure)
        saved.append(path)
    return saved


def write_json(result: TuneResult, path: str | os.PathLike[str]) -> Path:
    """Write ``result.to_dict()`` as strict JSON, atomically (:func:`anyarray_nn.files.write_json`).

    Non-finite numbers are written as ``null``; missing parent folders are created.
    """
    return write_json_file(path, result.to_dict())
