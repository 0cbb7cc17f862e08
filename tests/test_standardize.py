"""``TrainingConfig.standardize``: training on standardised features, folded into the first
layer so the trained network (and any saved model) reads the features as given."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from anyarray_nn import Network
from anyarray_nn.backend import Backend, to_numpy
from anyarray_nn.persistence import load_network
from anyarray_nn.training import EpochRecord, TrainingConfig, train
from anyarray_nn.training.standardize import Standardization, folded_when_done


def _badly_scaled(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes in 4 features on wildly different scales and offsets, one constant."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = np.array([[0.0, 0.0, 0.0], [2.0, -1.0, 1.0], [-1.0, 2.0, -2.0]])
    informative = centres[labels] + 0.5 * rng.standard_normal((n, 3))
    scaled = informative * np.array([1000.0, 0.001, 1.0]) + np.array([5000.0, -3.0, 40.0])
    features = np.concatenate([scaled, np.full((n, 1), 7.0)], axis=1)  # a constant column
    return features, labels


def _net(backend: Backend | str = "numpy", dtype: str = "float64") -> Network:
    return Network([4, 16, 3], backend=backend, dtype=dtype, seed=1)


CONFIG = TrainingConfig(epochs=5, batch_size=32, optimizer="adam", learning_rate=0.01, seed=2)


def test_folded_network_equals_training_on_standardised_features(backend: Backend) -> None:
    X, y = _badly_scaled()
    folded = _net(backend)
    train(folded, X, y, config=replace(CONFIG, standardize=True), progress=False)
    # The twin trains the same initial weights on features standardised by hand.
    mean, std = X.mean(axis=0), X.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    twin = _net(backend)
    train(twin, (X - mean) / scale, y, config=CONFIG, progress=False)
    raw = folded.predict_proba(folded.asarray(X))
    by_hand = twin.predict_proba(twin.asarray((X - mean) / scale))
    np.testing.assert_allclose(to_numpy(raw), to_numpy(by_hand), rtol=0, atol=1e-9)


def test_standardising_rescues_badly_scaled_features() -> None:
    X, y = _badly_scaled()
    plain, standardised = _net(), _net()
    config = replace(CONFIG, epochs=20)
    train(plain, X, y, config=config, progress=False)
    train(standardised, X, y, config=replace(config, standardize=True), progress=False)
    accuracy = [
        float(np.mean(to_numpy(n.predict(n.asarray(X))) == y)) for n in (plain, standardised)
    ]
    assert accuracy[1] > 0.9 > accuracy[0] + 0.2, accuracy


def test_statistics_come_from_the_training_rows_only() -> None:
    X, y = _badly_scaled()
    shifted = X[:60] + 1e6  # a validation set far away must not move the statistics
    a, b = _net(), _net()
    config = replace(CONFIG, standardize=True)
    train(a, X, y, config=config, progress=False)
    train(b, X, y, config=config, validation=(shifted, y[:60]), progress=False)
    for wa, wb in zip(a.get_weights()[0], b.get_weights()[0], strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_best_model_file_and_resume_read_raw_features(tmp_path) -> None:
    X, y = _badly_scaled()
    validation = _badly_scaled(60, seed=1)
    config = replace(CONFIG, epochs=6, standardize=True, patience=3)
    reference = _net()
    train(reference, X, y, config=config, validation=validation, checkpoint=tmp_path / "a.npz")
    best = load_network(tmp_path / "a.npz.best.npz")
    np.testing.assert_allclose(
        to_numpy(best.predict_proba(best.asarray(X))),
        to_numpy(reference.predict_proba(reference.asarray(X))),
        rtol=0,
        atol=1e-12,
    )

    class StopError(Exception):
        pass

    def stop_after_three(record: EpochRecord) -> None:
        if record.epoch == 3:
            raise StopError

    with pytest.raises(StopError):
        train(_net(), X, y, config=config, validation=validation, checkpoint=tmp_path / "b.npz",
              callback=stop_after_three)  # fmt: skip
    resumed = Network([4, 16, 3], dtype="float64", seed=7)
    train(resumed, X, y, config=config, validation=validation, checkpoint=tmp_path / "b.npz",
          resume=True)  # fmt: skip
    for a, b in zip(reference.get_weights()[0], resumed.get_weights()[0], strict=True):
        np.testing.assert_array_equal(a, b)
    # Resuming without standardising would be another run: refused, naming the setting.
    with pytest.raises(ValueError, match="standardize"):
        train(_net(), X, y, config=replace(config, standardize=False), validation=validation,
              checkpoint=tmp_path / "b.npz", resume=True)  # fmt: skip


def test_folded_however_training_ends() -> None:
    net = _net()
    X, _ = _badly_scaled(30)
    standardization = Standardization.fit(net, X)
    before = net.copy_parameters()
    with pytest.raises(KeyboardInterrupt), folded_when_done(net, standardization):
        raise KeyboardInterrupt
    W0 = to_numpy(before[0]) / to_numpy(standardization.scale)
    np.testing.assert_allclose(net.get_weights()[0][0], W0, rtol=1e-15)


def test_uint8_images_and_bad_values_are_refused() -> None:
    images = np.zeros((10, 2, 2), np.uint8)
    with pytest.raises(ValueError, match="uint8 images are scaled by 1/255"):
        train(_net(), images, np.arange(10) % 3, epochs=1, standardize=True, progress=False)
    with pytest.raises(ValueError, match="standardize must be True or False"):
        TrainingConfig(standardize="yes")  # type: ignore[arg-type]
