"""Evaluation: accuracy, cost, confusion matrix, per-class precision and recall.

Predictions are computed on the network's device in batches; the predicted labels and the
summed cost come back to the host once, where the (small) confusion matrix is counted with
NumPy.  This module and the data loader are the only places that read results back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import from_numpy, to_numpy
from .nn.network import Network

__all__ = ["Evaluation", "confusion_matrix", "evaluate", "format_confusion"]


@dataclass
class Evaluation:
    """Metrics of a network on a labelled data set.

    Attributes
    ----------
    accuracy : float
        Fraction of correctly classified samples.
    cost : float
        Mean cost (without regularisation).
    confusion : numpy.ndarray, shape (n_classes, n_classes)
        ``confusion[t, p]`` counts samples of true class ``t`` predicted as ``p``.
    precision, recall : numpy.ndarray, shape (n_classes,)
        Per class; NaN-free (a class never predicted has precision 0).
    misclassified : numpy.ndarray of int
        Indices of the wrongly classified samples.
    predictions : numpy.ndarray of int, shape (n,)
    """

    accuracy: float
    cost: float
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    misclassified: np.ndarray
    predictions: np.ndarray = field(repr=False)

    @property
    def n_samples(self) -> int:
        return int(self.predictions.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "accuracy": self.accuracy,
            "cost": self.cost,
            "n_samples": self.n_samples,
            "n_misclassified": int(self.misclassified.shape[0]),
            "confusion_matrix": self.confusion.tolist(),
            "precision": [float(p) for p in self.precision],
            "recall": [float(r) for r in self.recall],
            "misclassified": [int(i) for i in self.misclassified],
        }


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """``confusion[t, p]`` = number of samples with true label ``t`` predicted as ``p``.

    Parameters
    ----------
    labels, predictions : numpy.ndarray of int, shape (n,)
        True and predicted classes, each in ``[0, n_classes)``.
    n_classes : int
        Number of classes.

    Returns
    -------
    numpy.ndarray of int64, shape (n_classes, n_classes)

    Raises
    ------
    ValueError
        Different lengths, not one-dimensional, or a class outside ``[0, n_classes)``.
    """
    labels, predictions = (
        _check_classes(labels, "labels", n_classes),
        _check_classes(predictions, "predictions", n_classes),
    )
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.shape[0]} labels but {predictions.shape[0]} predictions")
    flat = labels * n_classes + predictions
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _check_classes(values: np.ndarray, name: str, n_classes: int) -> np.ndarray:
    """``values`` as a 1-d int64 array of classes in ``[0, n_classes)``, or ValueError."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must be integer classes, got dtype {values.dtype}")
    values = values.astype(np.int64, copy=False)
    if values.size and (int(values.min()) < 0 or int(values.max()) >= n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}), found values in "
            f"[{int(values.min())}, {int(values.max())}]"
        )
    return values


def evaluate(
    network: Network,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 4096,
) -> Evaluation:
    """Evaluate ``network`` on host data.

    Parameters
    ----------
    network : Network
    images : numpy.ndarray, shape (n, ...) of uint8 pixels (scaled by 1/255) or floats
        Flattened to (n, sizes[0]).
    labels : numpy.ndarray of int, shape (n,)
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    Evaluation
    """
    images = np.asarray(images)
    n_classes = network.sizes[-1]
    labels = _check_classes(labels, "labels", n_classes)
    if images.ndim < 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{labels.shape[0]} labels for images of shape {images.shape}: one label per image"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    predictions, cost_sum = _predict_with_cost(network, images, labels, batch_size)
    confusion = confusion_matrix(labels, predictions, n_classes)
    true_per_class = confusion.sum(axis=1)
    predicted_per_class = confusion.sum(axis=0)
    diagonal = np.diag(confusion).astype(np.float64)
    precision = np.divide(
        diagonal, predicted_per_class, out=np.zeros(n_classes), where=predicted_per_class > 0
    )
    recall = np.divide(diagonal, true_per_class, out=np.zeros(n_classes), where=true_per_class > 0)
    n = labels.shape[0]
    return Evaluation(
        accuracy=float(diagonal.sum() / n) if n else float("nan"),
        cost=cost_sum / n if n else float("nan"),
        confusion=confusion,
        precision=precision,
        recall=recall,
        misclassified=np.flatnonzero(predictions != labels),
        predictions=predictions,
    )


def _batches(
    network: Network, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> Iterator[tuple[Any, Any]]:
    """(X, one-hot Y) device batches in order: uint8 pixels through the data pipeline."""
    n_classes = network.sizes[-1]
    if images.dtype == np.uint8:
        from .data.batches import BatchIterator, image_shape  # data stays apart from the math

        yield from BatchIterator(
            images,
            labels,
            batch_size=batch_size,
            backend=network.backend,
            dtype=network.dtype_name,
            shuffle=False,
            num_classes=n_classes,
            image_shape=image_shape(images, network.sizes[0]),
        )
        return
    n = images.shape[0]
    X_all = from_numpy(images.reshape(n, -1), network.backend, network.dtype_name)
    Y_all = from_numpy(np.eye(n_classes)[labels], network.backend, network.dtype_name)
    for i in range(0, n, batch_size):
        j = min(i + batch_size, n)
        yield X_all[i:j, :], Y_all[i:j, :]


def _predict_with_cost(
    network: Network, images: np.ndarray, labels: np.ndarray, batch_size: int
) -> tuple[np.ndarray, float]:
    xp = network.xp
    cost_total = xp.zeros((), dtype=network.dtype, device=network.device)
    parts = []
    for X, Y in _batches(network, images, labels, batch_size):
        network.check_input(X)
        _, As, value = network.forward_with_cost(X, Y)
        cost_total = cost_total + value * float(X.shape[0])
        parts.append(xp.argmax(As[-1], axis=1))
    if not parts:
        return np.zeros((0,), np.int64), 0.0
    predictions = xp.concat(parts, axis=0)
    return to_numpy(predictions).astype(np.int64), float(to_numpy(cost_total))


def format_confusion(confusion: np.ndarray) -> str:
    """The confusion matrix as a plain-text table (rows: true class, columns: predicted)."""
    n = confusion.shape[0]
    width = max(5, len(str(int(confusion.max(initial=0)))) + 1)
    header = "true\\pred" + "".join(f"{p:>{width}}" for p in range(n))
    rows = [f"{t:>9}" + "".join(f"{int(c):>{width}}" for c in confusion[t]) for t in range(n)]
    return "\n".join([header, *rows])
