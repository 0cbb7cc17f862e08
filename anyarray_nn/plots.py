"""Figures of a training run (optional: ``pip install 'anyarray-nn[plot]'``).

* :func:`plot_learning_curves` -- cost and accuracy per epoch, plus the saturation
  diagnostics per layer;
* :func:`plot_confusion_matrix` -- the confusion matrix as a heat map;
* :func:`plot_misclassified` -- a grid of misclassified digits with predicted and true labels;
* :func:`plot_first_layer_weights` -- each first-layer unit's 784 weights as a 28x28 image;
* :func:`save_training_plots` -- all that apply, as PNG files in a folder.

Each function returns a :class:`matplotlib.figure.Figure` and saves it when ``path`` is
given (atomically, through :func:`anyarray_nn.files.atomic_write`).  Figures are built
without :mod:`matplotlib.pyplot` (no global state, no window): they render with the Agg
backend, so this works on servers and in tests.  Matplotlib is imported only when a
function is called.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_write

__all__ = [
    "plot_confusion_matrix",
    "plot_first_layer_weights",
    "plot_learning_curves",
    "plot_misclassified",
    "save_training_plots",
]


def _figure(figsize: tuple[float, float]) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plots need matplotlib: pip install 'anyarray-nn[plot]' (or matplotlib)"
        ) from exc
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str] | None) -> None:
    """Save ``fig`` atomically; the format follows the suffix, PNG (appended) without one."""
    if path is None:
        return
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + ".png")  # what matplotlib's savefig(path) does
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as file:
        fig.savefig(file, format=path.suffix[1:].lower(), dpi=100)


def plot_learning_curves(history: Any, path: str | os.PathLike[str] | None = None) -> Any:
    """Cost, accuracy and (when measured) saturation per epoch.

    Parameters
    ----------
    history : anyarray_nn.training.loop.History
    path : path-like, optional
        Where to save the figure (PNG).
    """
    records = list(history.records)
    epochs = [r.epoch for r in records]
    with_diag = bool(records and records[0].saturation)
    fig = _figure((12 if with_diag else 8, 3.8))
    axes = fig.subplots(1, 3 if with_diag else 2)
    ax_cost, ax_acc = axes[0], axes[1]
    ax_cost.plot(epochs, [r.train_cost for r in records], "o-", label="training")
    ax_acc.plot(epochs, [100 * r.train_accuracy for r in records], "o-", label="training")
    if records and records[0].validation_accuracy is not None:
        ax_cost.plot(epochs, [r.validation_cost for r in records], "s-", label="validation")
        ax_acc.plot(
            epochs, [100 * r.validation_accuracy for r in records], "s-", label="validation"
        )
    ax_cost.set(xlabel="epoch", ylabel="cost", title="cost")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_cost, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    if with_diag:
        _plot_units(axes[2], records, epochs)
    _save(fig, path)
    return fig


def _plot_units(ax: Any, records: list[Any], epochs: list[int]) -> None:
    """Saturated units per layer; for ReLU, inactive units (0) and units dead all epoch."""
    relu = bool(records[0].dead_units)
    n_layers = len(records[0].saturation)
    for l in range(n_layers - 1 if relu else n_layers):  # a softmax output never is 0
        name = "output" if l == n_layers - 1 else f"hidden {l + 1}"
        ax.plot(epochs, [100 * r.saturation[l] for r in records], "o-", label=name)
    for l in range(len(records[0].dead_units)):
        dead = [100 * r.dead_units[l] for r in records]
        ax.plot(epochs, dead, "x--", label=f"hidden {l + 1}: dead all epoch")
    what = "inactive units (ReLU = 0)" if relu else "saturated units"
    ax.set(xlabel="epoch", ylabel=f"{what} (%)", title=what, ylim=(0, 100))
    ax.legend()
    ax.grid(alpha=0.3)


def plot_confusion_matrix(
    confusion: np.ndarray,
    path: str | os.PathLike[str] | None = None,
    *,
    class_names: Sequence[str] | None = None,
) -> Any:
    """The confusion matrix (rows: true class, columns: predicted class) as a heat map,
    its axes labelled with ``class_names`` when given."""
    confusion = np.asarray(confusion)
    n = confusion.shape[0]
    fig = _figure((6.5, 5.5))
    ax = fig.subplots()
    from matplotlib.colors import SymLogNorm

    # Logarithmic colours (linear below 1) keep the off-diagonal errors visible next to the
    # diagonal; the colour bar is labelled in counts.
    top = max(float(confusion.max(initial=0)), 1.0)
    norm = SymLogNorm(linthresh=1.0, vmin=0.0, vmax=top)
    image = ax.imshow(confusion, cmap="Blues", norm=norm)
    threshold = np.log1p(top) / 2
    for t in range(n):
        for p in range(n):
            value = int(confusion[t, p])
            if value:
                color = "white" if np.log1p(value) > threshold else "black"
                ax.text(p, t, str(value), ha="center", va="center", fontsize=7, color=color)
    ax.set(
        xticks=range(n),
        yticks=range(n),
        xlabel="predicted",
        ylabel="true",
        title="confusion matrix",
    )
    if class_names is not None and len(class_names) == n:
        ax.set_xticklabels(class_names, rotation=90, fontsize=7)
        ax.set_yticklabels(class_names, fontsize=7)
    fig.colorbar(image, ax=ax, label="count (log scale)")
    _save(fig, path)
    return fig


def _grid(n: int) -> tuple[int, int]:
    cols = max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / cols)), cols


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    path: str | os.PathLike[str] | None = None,
    *,
    max_images: int = 36,
    image_shape: tuple[int, int] = (28, 28),
    class_names: Sequence[str] | None = None,
) -> Any:
    """A grid of the first ``max_images`` misclassified digits, titled "pred p / true t"
    (class names instead of numbers when ``class_names`` is given).

    Parameters
    ----------
    images : numpy.ndarray, shape (n, 28, 28) or (n, 784)
    labels, predictions : numpy.ndarray of int, shape (n,)
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    wrong = np.flatnonzero(predictions != labels)[:max_images]
    rows, cols = _grid(max(len(wrong), 1))
    fig = _figure((1.3 * cols + 0.5, 1.45 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, i in zip(axes, wrong, strict=False):
        ax.imshow(images[i].reshape(image_shape), cmap="gray_r", vmin=0)
        p, t = int(predictions[i]), int(labels[i])
        if class_names is not None:
            p, t = class_names[p], class_names[t]  # type: ignore[assignment]
        ax.set_title(f"pred {p} / true {t}", fontsize=8)
    if not len(wrong):
        axes[0].text(0.5, 0.5, "no misclassified samples", ha="center", va="center")
    fig.suptitle(f"misclassified digits ({int((predictions != labels).sum())} in all)")
    _save(fig, path)
    return fig


def plot_first_layer_weights(
    network: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    max_units: int = 64,
    image_shape: tuple[int, int] = (28, 28),
) -> Any:
    """Each first-layer unit's incoming weights as an image (red positive, blue negative).

    One colour scale for all units (the largest ``|w|`` shown), with a colour bar: a unit
    whose weights stayed small (a dead one, say) looks faint, not as vivid as the others.
    """
    weights = network.get_weights()[0][0]  # (n_hidden, 784) on the host
    if weights.shape[1] != image_shape[0] * image_shape[1]:
        raise ValueError(
            f"the first layer has {weights.shape[1]} inputs; cannot show them as "
            f"{image_shape[0]}x{image_shape[1]} images"
        )
    weights = weights[:max_units]
    rows, cols = _grid(weights.shape[0])
    fig = _figure((1.1 * cols + 0.5, 1.1 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    limit = float(np.abs(weights).max(initial=0.0)) or 1.0
    image = None
    for ax, w in zip(axes, weights, strict=False):
        image = ax.imshow(w.reshape(image_shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="weight", shrink=0.8)
    fig.suptitle(f"first-layer weights ({weights.shape[0]} units)")
    _save(fig, path)
    return fig


def save_training_plots(
    folder: str | os.PathLike[str],
    *,
    history: Any = None,
    evaluation: Any = None,
    network: Any = None,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> list[Path]:
    """Save every figure the given results allow, as PNG files in ``folder``.

    Returns
    -------
    list of pathlib.Path
        ``learning_curves.png`` (with ``history``), ``confusion_matrix.png`` (with
        ``evaluation``), ``misclassified.png`` (with ``evaluation``, ``images`` and
        ``labels``), ``first_layer_weights.png`` (with ``network``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if history is not None and len(history):
        written.append(folder / "learning_curves.png")
        plot_learning_curves(history, written[-1])
    if evaluation is not None:
        written.append(folder / "confusion_matrix.png")
        plot_confusion_matrix(evaluation.confusion, written[-1], class_names=class_names)
        if images is not None and labels is not None:
            written.append(folder / "misclassified.png")
            shape = images.shape[1:3] if images.ndim == 3 else (28, 28)
            plot_misclassified(
                images,
                labels,
                evaluation.predictions,
                written[-1],
                image_shape=(int(shape[0]), int(shape[1])),
                class_names=class_names,
            )
    if network is not None and network.sizes[0] == 784:
        written.append(folder / "first_layer_weights.png")
        plot_first_layer_weights(network, written[-1])
    return written
