"""ReLU units dead over a whole epoch (epoch record, line, plot); honest colour scales."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anyarray_nn.nn.network import Network
from anyarray_nn.nn.optimizers import get_optimizer
from anyarray_nn.training import train


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n)


def _with_dead_units(dead: int) -> Network:
    net = Network([784, 8, 10], seed=0)
    weights, biases = net.get_weights()
    weights[0][:dead] = -np.abs(weights[0][:dead])  # inputs are >= 0: Z < 0 always
    biases[0][:dead] = -1.0
    net.set_weights(weights, biases)
    return net


def _dead_fraction(net: Network, images: np.ndarray) -> float:
    """By definition, on the host: hidden units whose Z <= 0 for every sample."""
    weights, biases = net.get_weights()
    Z = (images.reshape(len(images), -1) / 255.0) @ weights[0].T + biases[0]
    return float((Z.max(axis=0) <= 0.0).mean())


def test_dead_units_per_epoch() -> None:
    images, labels = _data()
    net = _with_dead_units(3)
    expected = _dead_fraction(net, images)
    assert expected >= 3 / 8
    history = train(net, images, labels, epochs=1, batch_size=16, progress=False,
                    optimizer=get_optimizer("sgd", 1e-6))  # fmt: skip
    record = history.records[0]
    assert record.dead_units == [expected]  # the weights barely moved (lr 1e-6)
    assert record.saturation[0] >= expected  # inactive: at least the dead ones, every sample


def test_no_dead_units_for_sigmoid_or_without_diagnostics() -> None:
    images, labels = _data()
    net = Network([784, 8, 10], activation="sigmoid", seed=0)
    assert train(net, images, labels, epochs=1, progress=False).records[0].dead_units == []
    net = _with_dead_units(2)
    record = train(net, images, labels, epochs=1, progress=False, diagnostics=False).records[0]
    assert record.dead_units == []


def test_epoch_line_says_inactive_and_dead() -> None:
    from anyarray_nn.cli.output import epoch_line

    images, labels = _data()
    sgd = get_optimizer("sgd", 1e-6)
    net = _with_dead_units(2)
    expected = _dead_fraction(net, images)
    record = train(net, images, labels, epochs=1, progress=False, optimizer=sgd).records[0]
    line = epoch_line(record)
    assert "inactive hidden" in line and "saturated" not in line
    assert f"dead {100 * expected:.1f}%" in line


def test_plots_use_one_scale_and_count_colour_bars(tmp_path: Path) -> None:
    from anyarray_nn.metrics import evaluate
    from anyarray_nn.plots import (
        plot_confusion_matrix,
        plot_first_layer_weights,
        plot_learning_curves,
    )

    images, labels = _data()
    net = _with_dead_units(2)
    history = train(net, images, labels, epochs=2, progress=False,
                    validation=(images[:16], labels[:16]))  # fmt: skip
    fig = plot_learning_curves(history, tmp_path / "curves.png")
    labels_shown = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert "validation" in labels_shown and any("dead" in t for t in labels_shown)
    fig = plot_first_layer_weights(net, tmp_path / "w.png")
    panels = [ax for ax in fig.axes if ax.images]
    limits = {ax.images[0].get_clim() for ax in panels}
    assert len(limits) == 1  # one colour scale for every unit
    assert any(ax.get_ylabel() == "weight" for ax in fig.axes)  # the colour bar
    ev = evaluate(net, images.reshape(64, -1), labels)
    fig = plot_confusion_matrix(ev.confusion, tmp_path / "c.png")
    colour_bar = [ax for ax in fig.axes if "count" in ax.get_ylabel()]
    assert colour_bar and colour_bar[0].get_ylim()[1] >= ev.confusion.max() - 1e-9
