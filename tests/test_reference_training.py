"""The training loop's records against an independent recomputation on a tiny problem.

A spy network records the batches the loop hands to back-propagation (the batch order is the
data loader's business); a plain NumPy network written here then replays them: its own
forward pass, errors, momentum steps and cosine learning rates. Every number the loop records
(train and validation cost and accuracy, mean ``|delta|`` and saturation per layer, the
learning rate, the final weights) must match it.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from anyarray_nn import Network, to_numpy
from anyarray_nn.training import TrainingConfig, scheduled_learning_rate, train
from anyarray_nn.training.config import DEFAULT_LEARNING_RATES, MNIST_RECIPE, SCHEDULES


class _Spy(Network):
    """A network that keeps host copies of every batch it back-propagates."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []

    def backprop(self, X, Y, weight_decay):  # type: ignore[no-untyped-def]
        self.batches.append((np.array(X, copy=True), np.array(Y, copy=True)))
        return super().backprop(X, Y, weight_decay)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _measure(Ws, bs, X, Y):  # type: ignore[no-untyped-def]
    """Cost, hits, deltas, activations and gradients of a sigmoid-softmax network."""
    H = _sigmoid(X @ Ws[0].T + bs[0])
    A = _softmax(H @ Ws[1].T + bs[1])
    cost = -np.sum(Y * np.log(A)) / X.shape[0]
    hits = int(np.sum(A.argmax(1) == Y.argmax(1)))
    d2 = A - Y
    d1 = (d2 @ Ws[1]) * H * (1 - H)
    return cost, hits, [d1, d2], [H, A], [(d1, X), (d2, H)]


def _saturated(A: np.ndarray) -> float:
    return float(np.mean((A < 0.01) | (A > 0.99)))


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = rng.integers(0, 256, (n, 2, 2)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i].flat[c] = 255
    return images, labels.astype(np.int64)


def test_records_match_an_independent_recomputation() -> None:
    images, labels = _data(10, 0)
    val_images, val_labels = _data(6, 1)
    net = _Spy([4, 5, 3], activation="sigmoid", init="normal", dtype="float64", seed=3)
    Ws, bs = net.get_weights()
    config = TrainingConfig(
        epochs=3,
        batch_size=4,
        optimizer="momentum",
        learning_rate=0.5,
        momentum=0.6,
        weight_decay=0.01,
        schedule="cosine",
        min_learning_rate=0.1,
        seed=2,
    )
    history = train(
        net, images, labels, validation=(val_images, val_labels), config=config, progress=False
    )
    assert [len(b[0]) for b in net.batches] == [4, 4, 2] * 3
    Xv = val_images.reshape(6, 4) / 255.0
    Yv = np.eye(3)[val_labels]
    v = [np.zeros_like(p) for p in Ws + bs]
    best, best_epoch = -1.0, None
    for e, record in enumerate(history.records):
        lr = 0.1 + 0.5 * (0.5 - 0.1) * (1 + math.cos(math.pi * e / 3))
        assert record.epoch == e + 1
        assert record.learning_rate == pytest.approx(lr, rel=1e-15)
        cost_sum = hits = 0.0
        deltas, saturation = [0.0, 0.0], [0.0, 0.0]
        for X, Y in net.batches[3 * e : 3 * e + 3]:
            cost, hit, ds, As, pairs = _measure(Ws, bs, X, Y)
            cost_sum += cost * len(X)
            hits += hit
            for l in range(2):
                deltas[l] += float(np.mean(np.abs(ds[l]))) / 3
                saturation[l] += _saturated(As[l]) / 3
            grads = [d.T @ a / len(X) + 0.01 * W for (d, a), W in zip(pairs, Ws, strict=True)]
            grads += [d.mean(0) for d, _ in pairs]
            params = Ws + bs
            for i, g in enumerate(grads):
                v[i] = 0.6 * v[i] - lr * g
                params[i] = params[i] + v[i]
            Ws, bs = params[:2], params[2:]
        assert record.train_cost == pytest.approx(cost_sum / 10, rel=1e-10)
        assert record.train_accuracy == pytest.approx(hits / 10, rel=1e-12)
        np.testing.assert_allclose(record.mean_abs_delta, deltas, rtol=1e-10)
        np.testing.assert_allclose(record.saturation, saturation, rtol=1e-12, atol=1e-15)
        val_cost, val_hits, *_ = _measure(Ws, bs, Xv, Yv)
        assert record.validation_cost == pytest.approx(val_cost, rel=1e-10)
        assert record.validation_accuracy == pytest.approx(val_hits / 6, rel=1e-12)
        if val_hits / 6 > best:
            best, best_epoch = val_hits / 6, e + 1
        assert record.seconds >= 0.0
    assert history.best_epoch == best_epoch and not history.stopped_early
    got_W, got_b = net.get_weights()
    for got, want in zip(got_W + got_b, Ws + bs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_records_without_diagnostics_or_validation() -> None:
    images, labels = _data(10, 0)
    net = _Spy([4, 5, 3], activation="sigmoid", init="normal", dtype="float64", seed=3)
    Ws, bs = net.get_weights()
    history = train(
        net,
        images,
        labels,
        epochs=1,
        batch_size=10,
        optimizer="sgd",
        learning_rate=0.3,
        diagnostics=False,
        progress=False,
    )
    (record,) = history.records
    cost, hits, *_ = _measure(Ws, bs, *net.batches[0])
    assert record.train_cost == pytest.approx(cost, rel=1e-12)
    assert record.train_accuracy == pytest.approx(hits / 10, rel=1e-12)
    assert record.learning_rate == 0.3
    assert record.mean_abs_delta == [] and record.saturation == []
    assert record.validation_cost is None and record.validation_accuracy is None
    assert history.best_epoch is None


def test_an_optimizer_instance_is_used_and_its_rate_scheduled() -> None:
    from anyarray_nn import Adam

    images, labels = _data(10, 0)
    opt = Adam(0.2, beta1=0.5)
    net = Network([4, 3], dtype="float64", seed=0)
    history = train(net, images, labels, epochs=2, batch_size=5, optimizer=opt, progress=False)
    assert opt.steps == 4 and opt.learning_rate == 0.2
    assert [r.learning_rate for r in history.records] == [0.2, 0.2]
    cosine = train(
        Network([4, 3], seed=0),
        images,
        labels,
        epochs=2,
        batch_size=5,
        optimizer=Adam(0.2),
        schedule="cosine",
        progress=False,
    )
    assert [r.learning_rate for r in cosine.records] == pytest.approx([0.2, 0.1], rel=1e-15)
    with pytest.raises(ValueError, match=r"^resume=True needs a checkpoint path$"):
        train(Network([4, 3]), images, labels, resume=True, progress=False)
    with pytest.raises(ValueError, match=r"^early stopping \(patience\) needs a validation set$"):
        train(Network([4, 3]), images, labels, patience=2, progress=False)


def test_default_optimizer_rates_follow_the_optimizer() -> None:
    images, labels = _data(4, 0)
    for name, rate in (("sgd", 0.1), ("momentum", 0.02), ("adam", 1e-3)):
        history = train(
            Network([4, 3], seed=0), images, labels, epochs=1, optimizer=name, progress=False
        )
        assert history.records[0].learning_rate == rate


def test_schedules_against_their_formulas() -> None:
    step = TrainingConfig(epochs=9, learning_rate=0.8, schedule="step", step_size=2, gamma=0.3)
    want = [0.8, 0.8, 0.24, 0.24, 0.072, 0.072, 0.0216]
    got = [scheduled_learning_rate(step, e) for e in range(7)]
    assert got == pytest.approx(want, rel=1e-14)
    cos = TrainingConfig(epochs=4, learning_rate=1.0, schedule="cosine", min_learning_rate=0.2)
    want = [0.2 + 0.4 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    got = [scheduled_learning_rate(cos, e) for e in range(4)]
    assert got == pytest.approx(want, rel=1e-14)
    assert got[0] == 1.0 and got[2] == pytest.approx(0.6, rel=1e-14)
    assert scheduled_learning_rate(TrainingConfig(epochs=1, schedule="cosine"), 0) == 1e-3
    zero = TrainingConfig(epochs=0, learning_rate=0.5, schedule="cosine", min_learning_rate=0.1)
    assert scheduled_learning_rate(zero, 0) == 0.5
    const = TrainingConfig(learning_rate=0.4, step_size=1, gamma=0.1)
    assert [scheduled_learning_rate(const, e) for e in range(3)] == [0.4, 0.4, 0.4]


def test_training_defaults_are_literal() -> None:
    assert TrainingConfig().to_dict() == {
        "epochs": 10,
        "batch_size": 128,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": "constant",
        "step_size": 10,
        "gamma": 0.5,
        "min_learning_rate": 0.0,
        "patience": None,
        "max_shift": 0,
        "seed": 0,
        "dropout": 0.0,
        "distortions": "none",
        "standardize": False,
    }
    assert DEFAULT_LEARNING_RATES == {"sgd": 0.1, "momentum": 0.02, "adam": 1e-3}
    assert SCHEDULES == ("constant", "step", "cosine")
    recipe = MNIST_RECIPE.to_dict()
    assert (recipe["epochs"], recipe["learning_rate"], recipe["weight_decay"]) == (20, 2e-3, 5e-5)
    assert (recipe["schedule"], recipe["max_shift"], recipe["optimizer"]) == ("cosine", 1, "adam")
    assert type(TrainingConfig(momentum=1, gamma=1, min_learning_rate=0).momentum) is float
    config = TrainingConfig(learning_rate=1, weight_decay=0, gamma=2, min_learning_rate=0)
    assert all(
        type(getattr(config, f)) is float for f in ("learning_rate", "weight_decay", "gamma")
    )
    assert type(config.min_learning_rate) is float


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"epochs": -1}, "epochs must be >= 0, not -1"),
        ({"batch_size": 0}, "batch_size must be >= 1, not 0"),
        ({"learning_rate": 0.0}, "learning_rate must be a positive number, not 0.0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a positive number"),
        ({"learning_rate": float("inf")}, "learning_rate must be a positive number"),
        ({"weight_decay": -1e-12}, "weight_decay must be >= 0"),
        ({"weight_decay": float("inf")}, "weight_decay must be >= 0"),
        ({"schedule": "linear"}, "unknown schedule 'linear'; choose one of constant, step, co"),
        ({"step_size": 0}, "step_size must be >= 1, not 0"),
        ({"patience": 0}, "patience must be >= 1 or None, not 0"),
        ({"max_shift": -1}, "max_shift must be >= 0, not -1"),
    ],
)
def test_configuration_boundaries(fields: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**fields)


def test_configuration_accepts_its_boundaries() -> None:
    config = TrainingConfig(epochs=0, batch_size=1, step_size=1, patience=1, max_shift=0)
    assert (config.epochs, config.batch_size, config.patience) == (0, 1, 1)
    assert TrainingConfig(weight_decay=0.0, patience=None).patience is None


class _BarSpy:
    """Stands in for the progress bar: records what the loop tells it."""

    made: ClassVar[list[_BarSpy]] = []

    def __init__(self, show, total) -> None:  # type: ignore[no-untyped-def]
        self.show, self.total, self.updates, self.records = show, total, [], []
        _BarSpy.made.append(self)

    def update(self, batches: int = 1) -> None:
        self.updates.append(batches)

    def epoch_done(self, record) -> None:  # type: ignore[no-untyped-def]
        self.records.append(record)

    def __enter__(self) -> _BarSpy:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_progress_bar_is_told_the_batches_and_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyarray_nn.training.loop as loop_module

    monkeypatch.setattr(loop_module, "ProgressBar", _BarSpy)
    _BarSpy.made.clear()
    images, labels = _data(10, 0)
    history = train(Network([4, 3], seed=0), images, labels, epochs=3, batch_size=4, progress=False)
    (bar,) = _BarSpy.made
    assert bar.show is False and bar.total == 9 and bar.updates == [1] * 9
    assert bar.records == history.records


def test_one_sample_sets_are_averaged_over_one() -> None:
    images, labels = _data(1, 4)
    val_images, val_labels = _data(1, 5)
    net = _Spy([4, 5, 3], activation="sigmoid", init="normal", dtype="float64", seed=3)
    Ws, bs = net.get_weights()
    history = train(
        net,
        images,
        labels,
        validation=(val_images, val_labels),
        epochs=1,
        batch_size=8,
        optimizer="sgd",
        learning_rate=0.5,
        progress=False,
    )
    (record,) = history.records
    cost, hits, ds, _, pairs = _measure(Ws, bs, *net.batches[0])
    assert record.train_cost == pytest.approx(cost, rel=1e-12)
    assert record.train_accuracy == hits
    np.testing.assert_allclose(record.mean_abs_delta, [np.abs(d).mean() for d in ds], rtol=1e-12)
    grads = [d.T @ a for d, a in pairs] + [d[0] for d, _ in pairs]
    params = [p - 0.5 * g for p, g in zip(Ws + bs, grads, strict=True)]
    val_cost, val_hits, *_ = _measure(
        params[:2], params[2:], val_images.reshape(1, 4) / 255.0, np.eye(3)[val_labels]
    )
    assert record.validation_cost == pytest.approx(val_cost, rel=1e-12)
    assert record.validation_accuracy == val_hits


@pytest.mark.parametrize(
    ("shape", "sizes", "want"),
    [
        ((5, 3, 4), [12, 3], (3, 4)),
        ((5, 9), [9, 3], (3, 3)),
        ((5, 6), [6, 3], (1, 6)),
        ((5, 2), [2, 3], (1, 2)),
    ],
)
def test_image_shape_of_the_shifts(shape, sizes, want) -> None:  # type: ignore[no-untyped-def]
    from anyarray_nn.data.batches import image_shape

    assert image_shape(np.zeros(shape, np.uint8), Network(sizes).sizes[0]) == want


def test_diagnostics_without_validation_tell_hidden_from_output_layers() -> None:
    images, labels = _data(10, 0)
    net = _Spy([4, 5, 3], activation="tanh", init="normal", dtype="float64", seed=8)
    Ws, bs = net.get_weights()
    history = train(
        net,
        images,
        labels,
        epochs=1,
        batch_size=10,
        optimizer="sgd",
        learning_rate=0.1,
        progress=False,
    )
    (record,) = history.records
    (X, Y) = net.batches[0]
    H = np.tanh(X @ Ws[0].T + bs[0])
    A = _softmax(H @ Ws[1].T + bs[1])
    d2 = A - Y
    d1 = (d2 @ Ws[1]) * (1 - H * H)
    np.testing.assert_allclose(record.mean_abs_delta, [np.abs(d1).mean(), np.abs(d2).mean()])
    want = [float(np.mean(np.abs(H) > 0.98)), _saturated(A)]
    assert want[0] != float(np.mean((H < 0.01) | (H > 0.99)))  # the thresholds differ here
    np.testing.assert_allclose(record.saturation, want, rtol=1e-12)


def test_training_on_a_second_device() -> None:
    from anyarray_nn.backend import to_numpy

    images, labels = _data(10, 0)
    host = Network([4, 5, 3], activation="identity", output="sigmoid", dtype="float64", seed=1)
    dev = host.to("array_api_strict", "device1")
    kwargs = {"epochs": 2, "batch_size": 4, "optimizer": "sgd", "progress": False}
    a = train(host, images, labels, validation=_data(6, 1), **kwargs)
    b = train(dev, images, labels, validation=_data(6, 1), **kwargs)
    for ra, rb in zip(a.records, b.records, strict=True):
        assert rb.validation_cost == pytest.approx(ra.validation_cost, rel=1e-12)
        assert rb.saturation == ra.saturation == [0.0, rb.saturation[1]]
    np.testing.assert_allclose(to_numpy(dev.weights[0]), host.weights[0], rtol=1e-12)


def test_unknown_optimizer_name_is_a_value_error() -> None:
    images, labels = _data(4, 0)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        train(Network([4, 3]), images, labels, optimizer="rmsprop", progress=False)


def test_memory_budget_reaches_the_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyarray_nn.training.epoch as epoch_module

    seen: list[object] = []
    real = epoch_module.BatchIterator

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("memory_budget", "absent"))
        return real(*args, **kwargs)

    monkeypatch.setattr(epoch_module, "BatchIterator", spy)
    images, labels = _data(8, 0)
    train(Network([4, 3]), images, labels, epochs=1, memory_budget=12345, progress=False)
    assert seen == [12345]


def test_divergence_message_is_literal() -> None:
    from anyarray_nn.training import DivergenceError, History

    first = DivergenceError(1, 0.5, History())
    assert str(first) == (
        "training diverged in epoch 1: the cost became NaN or infinite with learning rate "
        "0.5; try a smaller learning rate (e.g. 0.05). The network keeps the weights of the "
        "start (the initial weights)."
    )
    assert str(DivergenceError(3, 2.0, History())).endswith(
        "(e.g. 0.2). The network keeps the weights of epoch 2."
    )


def test_early_stopping_and_history_defaults() -> None:
    from anyarray_nn.training import History
    from anyarray_nn.training.early_stopping import EarlyStopping

    fresh = EarlyStopping(2)
    fresh_state = {
        "best_accuracy": -1.0,
        "best_cost": float("inf"),
        "epochs_without_improvement": 0,
    }
    assert fresh.state() == fresh_state
    assert fresh.best_parameters is None
    net = Network([3, 2], seed=0)
    before = net.get_weights()[0][0].copy()
    fresh.restore_best(net)  # nothing kept yet: nothing to restore
    np.testing.assert_array_equal(net.get_weights()[0][0], before)
    loaded = EarlyStopping(2)
    loaded.best_accuracy, loaded.epochs_without_improvement = 0.5, 3
    loaded.load_state({}, None)
    assert loaded.state() == fresh_state
    empty = History.from_dict({})
    assert empty.records == [] and empty.best_epoch is None and empty.stopped_early is False


def test_feature_batches_follow_the_config() -> None:
    """``make_feature_batches``: the features as given, validation in large unshuffled batches,
    no validation iterator without validation data, and shifts refused for features."""
    from anyarray_nn.training.epoch import make_feature_batches

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    y = np.arange(10) % 2
    net = Network([3, 2], seed=0)
    config = TrainingConfig(batch_size=4, seed=3)
    batches, val = make_feature_batches(net, X, y, None, config)
    assert val is None
    assert batches.batch_size == 4 and batches.n_samples == 10
    seen = np.concatenate([to_numpy(Xb) for Xb, _ in batches])
    np.testing.assert_array_equal(np.sort(seen, axis=0), np.sort(X, axis=0))
    _, val = make_feature_batches(net, X, y, (X[:5], y[:5]), config)
    assert val is not None and val.batch_size == 1024 and val.shuffle is False
    assert val.n_samples == 5
    big = TrainingConfig(batch_size=2000)
    _, val = make_feature_batches(net, X, y, (X[:5], y[:5]), big)
    assert val is not None and val.batch_size == 2000
    with pytest.raises(ValueError, match=r"^max_shift \(random image shifts\) needs uint8"):
        make_feature_batches(net, X, y, None, TrainingConfig(max_shift=1))
