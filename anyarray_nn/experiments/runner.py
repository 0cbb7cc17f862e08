"""One experiment, end to end: data splits, a network, training, and a test evaluation.

The command line (``train``, ``paper``, ``tune``) and the examples are thin layers over
:func:`prepare_data` and :func:`run_experiment`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import Backend
from ..data import load_dataset, train_validation_split
from ..metrics import Evaluation, evaluate
from ..nn.network import Network
from ..training import History, TrainingConfig, train

__all__ = ["DataSplits", "ExperimentResult", "NetworkSpec", "prepare_data", "run_experiment"]


@dataclass
class DataSplits:
    """Host data of an experiment: training, validation (may be empty) and test sets."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    validation_images: np.ndarray | None = None
    validation_labels: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    name: str | None = None  # the named data set, None for an unnamed IDX folder

    @property
    def n_classes(self) -> int:
        """Classes of the data set (its class names, else the largest label + 1)."""
        if self.class_names:
            return len(self.class_names)
        return int(max(self.train_labels.max(initial=0), self.test_labels.max(initial=0))) + 1

    @property
    def n_inputs(self) -> int:
        """Pixels (or features) per sample."""
        return int(np.prod(self.train_images.shape[1:]))

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.validation_images is None or self.validation_labels is None:
            return None
        return self.validation_images, self.validation_labels

    def sizes(self) -> dict[str, int]:
        return {
            "train": int(self.train_images.shape[0]),
            "validation": 0
            if self.validation_images is None
            else int(self.validation_images.shape[0]),
            "test": int(self.test_images.shape[0]),
        }


@dataclass
class NetworkSpec:
    """Architecture and initialisation of a network, as plain values."""

    sizes: tuple[int, ...] = (784, 64, 10)
    activation: str = "relu"
    output: str = "softmax"
    cost: str = "cross_entropy"
    init: str = "he"
    dtype: str = "float32"
    seed: int = 0

    def build(self, backend: str | ModuleType | Backend = "numpy", device: Any = None) -> Network:
        return Network(
            list(self.sizes),
            activation=self.activation,
            output=self.output,
            cost=self.cost,
            init=self.init,
            dtype=self.dtype,
            backend=backend,
            device=device,
            seed=self.seed,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output": self.output,
            "cost": self.cost,
            "init": self.init,
            "dtype": self.dtype,
            "seed": self.seed,
        }


@dataclass
class ExperimentResult:
    """A trained network with its history and test evaluation."""

    network: Network
    history: History
    evaluation: Evaluation
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float:
        return self.evaluation.accuracy


def prepare_data(
    data_dir: str | Path | None = None,
    *,
    train_size: int | None = None,
    validation_size: int | float = 0,
    seed: int = 0,
    download: bool = True,
    progress: bool | None = None,
    dataset: str | None = None,
    verify: bool = True,
) -> DataSplits:
    """Load a data set (MNIST by default) and carve the splits of an experiment.

    Parameters
    ----------
    data_dir : path, optional
        Folder with the IDX files (see :func:`anyarray_nn.data.load_dataset`).
    train_size : int, optional
        Use only the first ``train_size`` training images (quick runs).
    validation_size : int or float
        Samples (or fraction) of the training images held out for validation; the test set
        is never used for model selection.
    seed : int
        Seed of the validation split.
    dataset : {"mnist", "fashion-mnist", "kmnist"}, optional
        The named data set; ``None``: MNIST, or with ``verify=False`` and a ``data_dir`` any
        IDX data (any image size and number of classes).
    verify : bool
        Check the files' SHA-256 (named sets).
    """
    mnist = load_dataset(dataset, data_dir, download=download, progress=progress, verify=verify)
    images, labels = mnist.train_images, mnist.train_labels
    if train_size is not None:
        if int(train_size) < 1:
            raise ValueError(f"train_size must be >= 1, not {train_size}")
        images, labels = images[: int(train_size)], labels[: int(train_size)]
    splits = DataSplits(images, labels, mnist.test_images, mnist.test_labels)
    splits.class_names = mnist.class_names
    splits.name = mnist.name
    if validation_size:
        tr_x, tr_y, va_x, va_y = train_validation_split(images, labels, validation_size, seed)
        splits.train_images, splits.train_labels = tr_x, tr_y
        splits.validation_images, splits.validation_labels = va_x, va_y
    return splits


def run_experiment(
    data: DataSplits,
    spec: NetworkSpec | None = None,
    config: TrainingConfig | None = None,
    *,
    backend: str | ModuleType | Backend = "numpy",
    device: Any = None,
    **train_kwargs: Any,
) -> ExperimentResult:
    """Build a network from ``spec``, train it on ``data`` with ``config``, evaluate it on the
    test set.

    Parameters
    ----------
    **train_kwargs
        Passed to :func:`anyarray_nn.training.loop.train` (``progress``, ``checkpoint``, ...).
    """
    spec = spec or NetworkSpec()
    config = config or TrainingConfig()
    network = spec.build(backend, device)
    t0 = time.perf_counter()
    history = train(
        network,
        data.train_images,
        data.train_labels,
        validation=data.validation,
        config=config,
        **train_kwargs,
    )
    evaluation = evaluate(network, data.test_images, data.test_labels)
    seconds = time.perf_counter() - t0
    return ExperimentResult(
        network=network,
        history=history,
        evaluation=evaluation,
        seconds=seconds,
        config={"network": spec.to_dict(), "training": config.to_dict()},
    )
