"""The training loop's components, each on its own: early stopping, divergence rollback,
the progress bar, checkpoints without a path, the history and the configuration merge."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from anyarray_nn import Network, get_optimizer
from anyarray_nn.backend import Backend, to_numpy
from anyarray_nn.training import DivergenceError, EpochRecord, History, TrainingConfig
from anyarray_nn.training.checkpointing import Checkpoints
from anyarray_nn.training.config import merge_config
from anyarray_nn.training.divergence import LastGoodEpoch
from anyarray_nn.training.early_stopping import EarlyStopping
from anyarray_nn.training.progress import ProgressBar


def _net(backend: Backend | str = "numpy") -> Network:
    return Network([6, 5, 3], backend=backend, seed=0)


def _step(net: Network, optimizer=None, n: int = 1) -> None:  # type: ignore[no-untyped-def]
    """``n`` optimiser steps on a fixed random batch: the parameters (and state) move."""
    rng = np.random.default_rng(1)
    X = net.asarray(rng.random((8, 6)))
    Y = net.asarray(np.eye(3)[rng.integers(0, 3, size=8)])
    optimizer = optimizer or get_optimizer("sgd", 0.5)
    for _ in range(n):
        net.apply_gradients(optimizer, net.backprop(X, Y, 0.0))


def _host(net: Network) -> list[np.ndarray]:
    Ws, bs = net.get_weights()
    return [np.array(a, copy=True) for a in Ws + bs]


def _record(epoch: int, accuracy: float | None) -> EpochRecord:
    return EpochRecord(epoch, 1.0, 0.5, 0.1, 0.0, validation_accuracy=accuracy)


def _assert_same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# Early stopping -------------------------------------------------------------------------


def test_early_stopping_stops_after_patience_and_restores_best(backend: Backend) -> None:
    net, history = _net(backend), History()
    stopping = EarlyStopping(patience=2)
    snapshots = {}
    for epoch, accuracy in enumerate([0.5, 0.7, 0.6, 0.7], start=1):
        _step(net)
        snapshots[epoch] = _host(net)
        improved = stopping.update(_record(epoch, accuracy), net, history)
        assert improved == (epoch in (1, 2))  # equal is not better
        assert history.stopped_early == (epoch == 4)
    assert history.best_epoch == 2 and stopping.best_accuracy == 0.7
    stopping.restore_best(net)
    _assert_same(_host(net), snapshots[2])


def test_early_stopping_resets_patience_on_improvement() -> None:
    net, history = _net(), History()
    stopping = EarlyStopping(patience=2)
    for epoch, accuracy in enumerate([0.5, 0.4, 0.6, 0.5], start=1):
        stopping.update(_record(epoch, accuracy), net, history)
        assert not history.stopped_early
    stopping.update(_record(5, 0.5), net, history)
    assert history.stopped_early and history.best_epoch == 3


def test_without_patience_the_best_epoch_is_tracked_but_nothing_restored() -> None:
    net, history = _net(), History()
    stopping = EarlyStopping(patience=None)
    for epoch, accuracy in enumerate([0.9, 0.1, 0.1, 0.1], start=1):
        _step(net)
        stopping.update(_record(epoch, accuracy), net, history)
    assert history.best_epoch == 1 and not history.stopped_early
    last = _host(net)
    stopping.restore_best(net)
    _assert_same(_host(net), last)


def test_early_stopping_ignores_records_without_validation() -> None:
    net, history = _net(), History()
    stopping = EarlyStopping(patience=1)
    assert not stopping.update(_record(1, None), net, history)
    assert history.best_epoch is None and stopping.epochs_without_improvement == 0


def test_early_stopping_state_round_trip() -> None:
    net, history = _net(), History()
    stopping = EarlyStopping(patience=3)
    for epoch, accuracy in enumerate([0.5, 0.4], start=1):
        stopping.update(_record(epoch, accuracy), net, history)
    resumed = EarlyStopping(patience=3)
    resumed.load_state(stopping.state(), net.copy_parameters())
    assert (
        resumed.state()
        == stopping.state()
        == {
            "best_accuracy": 0.5,
            "best_cost": 0.0,  # records without a validation cost count as 0
            "epochs_without_improvement": 1,
        }
    )
    assert resumed.best_parameters is not None


# Divergence rollback --------------------------------------------------------------------


def test_rollback_keeps_last_good_weights_and_optimizer_state(backend: Backend) -> None:
    net = _net(backend)
    adam = get_optimizer("adam", 0.01)
    _step(net, adam, n=3)
    guard = LastGoodEpoch(net, adam)
    good, good_state = _host(net), [to_numpy(a).copy() for a in adam.state_arrays()]
    _step(net, adam, n=2)  # the "bad" epoch moves everything on
    assert adam.steps == 5
    with pytest.raises(DivergenceError, match="epoch 4") as info:
        guard.check(False, 5, 0.01, History())
    assert info.value.epoch == 5 and info.value.learning_rate == 0.01
    _assert_same(_host(net), good)
    assert adam.steps == 3
    _assert_same([to_numpy(a).copy() for a in adam.state_arrays()], good_state)


def test_a_finite_epoch_becomes_the_last_good_one() -> None:
    net = _net()
    sgd = get_optimizer("sgd", 0.5)
    guard = LastGoodEpoch(net, sgd)
    _step(net, sgd)
    guard.check(True, 1, 0.5, History())
    kept = _host(net)
    _step(net, sgd)
    with pytest.raises(DivergenceError, match="keeps the weights of epoch 1"):
        guard.check(False, 2, 0.5, History())
    _assert_same(_host(net), kept)


def test_rollback_snapshot_is_a_copy() -> None:
    """The snapshot does not move with the live parameters (in-place optimiser steps)."""
    net = _net()
    initial = _host(net)
    guard = LastGoodEpoch(net, get_optimizer("sgd", 0.5))
    _step(net)
    with pytest.raises(DivergenceError, match="initial weights"):
        guard.check(False, 1, 0.5, History())
    _assert_same(_host(net), initial)


# Progress bar ---------------------------------------------------------------------------


def test_disabled_progress_bar_does_nothing(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # any import of tqdm would fail
    with ProgressBar(False, 100) as bar:
        assert not bar.enabled
        bar.update(5)
        bar.epoch_done(_record(1, 0.5))
    bar.close()
    assert capsys.readouterr() == ("", "")


def test_progress_bar_defaults_to_off_without_a_terminal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not ProgressBar(None, 10).enabled


def test_enabled_progress_bar_counts_batches() -> None:
    pytest.importorskip("tqdm")
    with ProgressBar(True, 4) as bar:
        assert bar.enabled
        bar.update(1)
        bar.update(2)
        bar.epoch_done(_record(1, 0.25))
        assert bar._bar.n == 3
        assert "val 0.2500" in bar._bar.postfix


# Checkpoints, history, configuration -----------------------------------------------------


def test_checkpoints_without_a_path_do_nothing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    net, sgd = _net(), get_optimizer("sgd", 0.1)
    rng = np.random.default_rng(0)
    checkpoints = Checkpoints(None, net, sgd, TrainingConfig(), rng, EarlyStopping(None))
    assert checkpoints.resume() == (0, History())
    checkpoints.save(1, History())
    checkpoints.save_best()
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_names_its_best_model_file(tmp_path) -> None:
    net, sgd = _net(), get_optimizer("sgd", 0.1)
    path = tmp_path / "run.ckpt.npz"
    rng = np.random.default_rng(0)
    checkpoints = Checkpoints(path, net, sgd, TrainingConfig(), rng, EarlyStopping(None))
    assert checkpoints.resume() == (0, History())  # no file yet: a fresh start
    checkpoints.save_best()
    assert checkpoints.best_path == tmp_path / "run.ckpt.npz.best.npz"
    assert checkpoints.best_path.exists()


def test_history_round_trip_and_no_item_access() -> None:
    history = History([_record(1, 0.5), _record(2, 0.75)], best_epoch=2, stopped_early=True)
    assert History.from_dict(history.to_dict()) == history
    assert len(history) == 2 and history.seconds == 0.0
    with pytest.raises(TypeError):
        history["validation_accuracy"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "rate"),
    [({}, 1e-3), ({"optimizer": "sgd"}, 0.1), ({"optimizer": "momentum"}, 0.02)],
)
def test_merge_config_uses_the_optimizer_default_rate(overrides, rate) -> None:  # type: ignore[no-untyped-def]
    assert merge_config(None, dict(overrides)).learning_rate == rate


def test_merge_config_keeps_a_given_config() -> None:
    config = TrainingConfig(optimizer="sgd", learning_rate=0.3)
    assert merge_config(config, {}) is config
    merged = merge_config(config, {"epochs": 2})
    assert (merged.epochs, merged.learning_rate, merged.optimizer) == (2, 0.3, "sgd")
