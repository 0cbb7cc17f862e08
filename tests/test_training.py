"""The training loop: resume equivalence, divergence, one device read per epoch, schedules."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import anyarray_nn.training.epoch as epoch_module
from anyarray_nn import Network
from anyarray_nn.backend import Backend
from anyarray_nn.training import (
    DivergenceError,
    EpochRecord,
    TrainingConfig,
    scheduled_learning_rate,
    train,
)


def _digits(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic 28x28 uint8 'digits': each class lights its own band of rows, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n)
    images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 230
    return images, labels.astype(np.int64)


def _host_copy(net: Network) -> tuple[list[np.ndarray], list[np.ndarray]]:
    Ws, bs = net.get_weights()  # NumPy may return the live arrays: copy them
    return [W.copy() for W in Ws], [b.copy() for b in bs]


def _net(backend: Backend | str = "numpy", seed: int = 1) -> Network:
    return Network([784, 12, 10], backend=backend, seed=seed)


def test_training_learns_and_records_history(backend: Backend) -> None:
    images, labels = _digits()
    net = _net(backend)
    history = train(
        net,
        images,
        labels,
        epochs=3,
        batch_size=32,
        optimizer="adam",
        learning_rate=0.01,
        validation=_digits(60, seed=1),
        progress=False,
    )
    assert len(history) == 3
    last = history.records[-1]
    assert last.train_accuracy > 0.9 and last.validation_accuracy > 0.9
    assert len(last.mean_abs_delta) == 2 and len(last.saturation) == 2
    assert all(0.0 <= s <= 1.0 for s in last.saturation)
    assert all(math.isfinite(d) and d > 0.0 for d in last.mean_abs_delta)
    assert history.best_epoch is not None


def test_resume_equals_uninterrupted_run(tmp_path) -> None:
    images, labels = _digits()
    config = TrainingConfig(
        epochs=4,
        batch_size=32,
        optimizer="adam",
        learning_rate=0.005,
        schedule="cosine",
        max_shift=1,
        seed=3,
    )
    reference = _net()
    train(reference, images, labels, config=config, progress=False)

    class StopError(Exception):
        pass

    def stop_after_two(record: EpochRecord) -> None:
        if record.epoch == 2:
            raise StopError

    checkpoint = tmp_path / "run.ckpt.npz"
    interrupted = _net()
    with pytest.raises(StopError):
        train(
            interrupted,
            images,
            labels,
            config=config,
            checkpoint=checkpoint,
            callback=stop_after_two,
            progress=False,
        )
    resumed = _net(seed=99)  # different initial weights: everything comes from the checkpoint
    history = train(
        resumed,
        images,
        labels,
        config=config,
        checkpoint=checkpoint,
        resume=True,
        progress=False,
    )
    assert [r.epoch for r in history.records] == [1, 2, 3, 4]
    for a, b in zip(reference.get_weights()[0], resumed.get_weights()[0], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(reference.get_weights()[1], resumed.get_weights()[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_divergence_names_epoch_and_keeps_last_good_weights(backend: Backend) -> None:
    images, labels = _digits(120)
    net = _net(backend)
    after_epoch: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
    # Epoch 1 at a sane rate, then a step schedule multiplies it by 1e12.
    with pytest.raises(DivergenceError) as info:
        train(
            net,
            images,
            labels,
            epochs=4,
            batch_size=30,
            optimizer="sgd",
            learning_rate=0.1,
            schedule="step",
            step_size=1,
            gamma=1e12,
            progress=False,
            callback=lambda record: after_epoch.append(_host_copy(net)),
        )
    error = info.value
    assert error.epoch == 2
    assert "epoch 2" in str(error) and "smaller learning rate" in str(error)
    assert len(error.history) == 1
    kept_W, kept_b = net.get_weights()
    for a, b in zip(kept_W + kept_b, after_epoch[0][0] + after_epoch[0][1], strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.all(np.isfinite(a))


def test_divergence_in_first_epoch_keeps_initial_weights() -> None:
    images, labels = _digits(120)
    net = _net()
    initial = _host_copy(net)
    with pytest.raises(DivergenceError, match=r"epoch 1.*initial weights"):
        train(
            net,
            images,
            labels,
            epochs=2,
            batch_size=10,
            optimizer="sgd",
            learning_rate=1e12,
            progress=False,
        )
    np.testing.assert_array_equal(net.get_weights()[0][0], initial[0][0])


def test_one_device_read_per_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    images, labels = _digits()
    reads = []
    real = epoch_module.to_numpy

    def counting(x):  # type: ignore[no-untyped-def]
        reads.append(x.shape)
        return real(x)

    monkeypatch.setattr(epoch_module, "to_numpy", counting)
    import anyarray_nn.backend as backend_module
    import anyarray_nn.nn.network as network_module

    def forbidden(x):  # type: ignore[no-untyped-def]
        raise AssertionError("a device read outside the once-per-epoch summary")

    monkeypatch.setattr(network_module, "to_numpy", forbidden)
    monkeypatch.setattr(backend_module, "to_numpy", forbidden)
    net = _net()
    train(
        net,
        images,
        labels,
        epochs=3,
        batch_size=16,
        validation=_digits(40, 1),
        progress=False,
    )
    assert len(reads) == 3  # 15 batches per epoch, one read each epoch


def test_early_stopping_restores_best_weights() -> None:
    images, labels = _digits()
    net = _net()
    snapshots = {}
    history = train(
        net,
        images,
        labels,
        epochs=30,
        batch_size=32,
        learning_rate=0.05,
        optimizer="sgd",
        validation=_digits(60, 2),
        patience=2,
        progress=False,
        callback=lambda r: snapshots.__setitem__(r.epoch, net.get_weights()[0][0].copy()),
    )
    best = history.best_epoch
    assert best is not None
    if history.stopped_early:
        assert len(history) == best + 2
    np.testing.assert_array_equal(net.get_weights()[0][0], snapshots[best])


def test_schedules() -> None:
    step = TrainingConfig(learning_rate=1.0, schedule="step", step_size=2, gamma=0.1, epochs=6)
    assert [scheduled_learning_rate(step, e) for e in range(4)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.1]
    )
    cosine = TrainingConfig(learning_rate=1.0, schedule="cosine", epochs=4)
    rates = [scheduled_learning_rate(cosine, e) for e in range(4)]
    assert rates[0] == 1.0 and all(a > b for a, b in itertools.pairwise(rates))
    assert rates[-1] > 0.0  # the last epoch still learns


def test_bad_configuration_is_reported() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingConfig(learning_rate=-1.0)
    with pytest.raises(ValueError, match="gamma"):  # would make the learning rate negative
        TrainingConfig(schedule="step", gamma=-1.0)
    with pytest.raises(ValueError, match="validation"):
        train(_net(), *_digits(20), patience=2, progress=False)


def test_resume_with_other_settings_is_refused(tmp_path) -> None:
    images, labels = _digits(64)
    checkpoint = tmp_path / "c.npz"
    train(_net(), images, labels, epochs=1, checkpoint=checkpoint, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(
            _net(),
            images,
            labels,
            epochs=2,
            batch_size=7,
            checkpoint=checkpoint,
            resume=True,
            progress=False,
        )
    history = train(_net(), images, labels, epochs=2, checkpoint=checkpoint, resume=True)
    assert [r.epoch for r in history.records] == [1, 2]


def test_divergence_restores_optimizer_state() -> None:
    from anyarray_nn import get_optimizer

    images, labels = _digits(120)
    net = _net()
    adam = get_optimizer("adam", 0.01)
    steps_after_first = []
    with pytest.raises(DivergenceError):
        train(
            net,
            images,
            labels,
            epochs=3,
            batch_size=30,
            optimizer=adam,
            schedule="step",
            step_size=1,
            gamma=1e30,
            progress=False,
            callback=lambda r: steps_after_first.append(adam.steps),
        )
    assert adam.steps == steps_after_first[0] == 4
    for a in adam.state_arrays():
        assert np.all(np.isfinite(np.asarray(a)))
