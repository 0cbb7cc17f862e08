"""The paper's section 3.2, measured: how the 784-64-10 network was made to learn.

Five steps, each changing one thing of the previous one (:data:`PAPER_STEPS`):

1. sigmoid units, quadratic cost, weights drawn from N(0, 1), learning rate 1.0: the
   weighted inputs are so large that almost every hidden unit is saturated, the
   errors ``delta^1`` of (13) are tiny, and the network barely learns;
2. weights with standard deviation ``n_in^-1/2`` ([init]): the units leave saturation and the
   network learns, slowly;
3. ReLU hidden units: no saturation on the positive side, larger ``delta^1``;
4. a better learning rate;
5. L2 regularisation plus the training set expanded five-fold by one-pixel shifts
   (:func:`anyarray_nn.data.expand_with_shifts`): the paper's 90.8% or more;
6. beyond the paper, the same 784-64-10 with everything this library knows
   (:data:`anyarray_nn.training.recipes.ESSAY_EVERYTHING`: softmax + cross-entropy, He
   weights, Adam with a cosine schedule, L2, elastic distortions on the device).

:func:`run_paper` trains every step and returns :class:`PaperRow` records with the test
accuracy and the saturation statistics (fraction of saturated hidden units and mean
``|delta^1|`` of the first layer) measured while it runs; nothing is written in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from ..backend import Backend
from ..data import expand_with_shifts
from ..training import TrainingConfig
from ..training.recipes import ESSAY_EVERYTHING
from .runner import DataSplits, NetworkSpec, run_experiment

__all__ = [
    "PAPER_ACCURACY",
    "PAPER_STEPS",
    "PaperRow",
    "PaperStep",
    "format_paper_table",
    "run_paper",
]

#: The paper's final test accuracy on the 784-64-10 network.
PAPER_ACCURACY = 0.908

#: Epochs of every step by default.
DEFAULT_EPOCHS = 10


@dataclass(frozen=True)
class PaperStep:
    """One step of the story: an architecture, a training configuration, the data used."""

    name: str
    change: str
    spec: NetworkSpec
    config: TrainingConfig
    expand: bool = False


_SIGMOID_QUADRATIC = NetworkSpec(
    sizes=(784, 64, 10), activation="sigmoid", output="sigmoid", cost="quadratic", init="normal"
)
#: Plain mini-batch gradient descent, 1000 samples a batch, learning rate 1.0.
_SGD = TrainingConfig(epochs=DEFAULT_EPOCHS, batch_size=1000, optimizer="sgd", learning_rate=1.0)

#: The five steps of section 3.2, in order, and a sixth: everything the library knows.
PAPER_STEPS: tuple[PaperStep, ...] = (
    PaperStep(
        "1 sigmoid, N(0,1) weights",
        "sigmoid units, quadratic cost, weights ~ N(0, 1), learning rate 1.0",
        _SIGMOID_QUADRATIC,
        _SGD,
    ),
    PaperStep(
        "2 weights std n^-1/2",
        "weights ~ N(0, 1/n_in) (LeCun)",
        replace(_SIGMOID_QUADRATIC, init="lecun"),
        _SGD,
    ),
    PaperStep(
        "3 ReLU",
        "ReLU hidden units",
        replace(_SIGMOID_QUADRATIC, init="lecun", activation="relu"),
        _SGD,
    ),
    PaperStep(
        "4 better learning rate",
        "learning rate 1.5 instead of 1.0",
        replace(_SIGMOID_QUADRATIC, init="lecun", activation="relu"),
        replace(_SGD, learning_rate=1.5),
    ),
    PaperStep(
        "5 L2 + expanded data",
        "L2 (lambda 1e-5) and the training set expanded x5 by one-pixel shifts",
        replace(_SIGMOID_QUADRATIC, init="lecun", activation="relu"),
        replace(_SGD, learning_rate=1.5, weight_decay=1e-5),
        expand=True,
    ),
    PaperStep(
        "6 everything (essay-plus)",
        ESSAY_EVERYTHING.description,
        NetworkSpec(**ESSAY_EVERYTHING.network),
        ESSAY_EVERYTHING.config,
    ),
)


@dataclass
class PaperRow:
    """The measured outcome of one :class:`PaperStep`.

    Attributes
    ----------
    saturation_first, saturation_last : float
        Fraction of saturated hidden units (first layer) averaged over the first and the last
        epoch's batches.
    delta_first, delta_last : float
        Mean ``|delta^1|`` of the first layer in the first and the last epoch.
    history : list of dict
        The per-epoch records.
    """

    step: int
    name: str
    change: str
    test_accuracy: float
    train_accuracy: float
    saturation_first: float
    saturation_last: float
    delta_first: float
    delta_last: float
    train_samples: int
    epochs: int
    seconds: float
    network: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "name": self.name,
            "change": self.change,
            "test_accuracy": self.test_accuracy,
            "train_accuracy": self.train_accuracy,
            "saturation_first_epoch": self.saturation_first,
            "saturation_last_epoch": self.saturation_last,
            "mean_abs_delta1_first_epoch": self.delta_first,
            "mean_abs_delta1_last_epoch": self.delta_last,
            "train_samples": self.train_samples,
            "epochs": self.epochs,
            "seconds": self.seconds,
            "network": self.network,
            "training": self.training,
            "history": self.history,
        }


def run_paper(
    data: DataSplits,
    *,
    epochs: int | None = None,
    backend: str | ModuleType | Backend = "numpy",
    device: Any = None,
    seed: int = 0,
    steps: tuple[PaperStep, ...] = PAPER_STEPS,
    progress: bool | None = None,
    on_row: Callable[[PaperRow], None] | None = None,
) -> list[PaperRow]:
    """Train every step of :data:`PAPER_STEPS` and measure it on the test set.

    Parameters
    ----------
    data : DataSplits
        Training and test images (see :func:`anyarray_nn.experiments.runner.prepare_data`; pass
        ``train_size`` there for a quick run).
    epochs : int, optional
        Epochs of every step (default :data:`DEFAULT_EPOCHS`).
    backend, device
        Where to train.
    seed : int
        Seed of the initial weights and the batch order (the same for every step).
    on_row : callable, optional
        Called with each row as soon as it is measured.

    Returns
    -------
    list of PaperRow
    """
    rows = []
    for i, step in enumerate(steps, start=1):
        config = replace(step.config, seed=seed)
        if epochs is not None:
            config = replace(config, epochs=int(epochs))
        spec = replace(step.spec, seed=seed)
        step_data = data
        if step.expand:
            images, labels = expand_with_shifts(data.train_images, data.train_labels)
            step_data = replace(data, train_images=images, train_labels=labels)
        t0 = time.perf_counter()
        result = run_experiment(
            step_data, spec, config, backend=backend, device=device, progress=progress
        )
        seconds = time.perf_counter() - t0
        history = result.history
        records = history.records
        first, last = (records[0], records[-1]) if records else (None, None)
        row = PaperRow(
            step=i,
            name=step.name,
            change=step.change,
            test_accuracy=result.test_accuracy,
            train_accuracy=last.train_accuracy if last else float("nan"),
            saturation_first=_first_layer(first, "saturation"),
            saturation_last=_first_layer(last, "saturation"),
            delta_first=_first_layer(first, "mean_abs_delta"),
            delta_last=_first_layer(last, "mean_abs_delta"),
            train_samples=int(step_data.train_images.shape[0]),
            epochs=config.epochs,
            seconds=seconds,
            network=spec.to_dict(),
            training=config.to_dict(),
            history=history.to_dict()["epochs"],
        )
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def _first_layer(record: Any, key: str) -> float:
    if record is None or not getattr(record, key):
        return float("nan")
    return float(getattr(record, key)[0])


def format_paper_table(rows: list[PaperRow]) -> str:
    """The rows as a plain-text (Markdown) table."""
    lines = [
        "| step | test accuracy | saturated hidden units (first -> last epoch) "
        "| mean abs delta^1 (first -> last epoch) | train samples | epochs | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {100 * r.test_accuracy:.2f}% "
            f"| {100 * r.saturation_first:.1f}% -> {100 * r.saturation_last:.1f}% "
            f"| {r.delta_first:.2e} -> {r.delta_last:.2e} "
            f"| {r.train_samples} | {r.epochs} | {r.seconds:.1f} |"
        )
    return "\n".join(lines)
