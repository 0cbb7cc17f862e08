"""The training loop on float features: used as given, any number of classes, regression."""

from __future__ import annotations

import numpy as np
import pytest

from anyarray_nn import Network
from anyarray_nn.backend import Backend, to_numpy
from anyarray_nn.data.feature_batches import FeatureBatchIterator
from anyarray_nn.training import train


def _blobs(n: int = 300, k: int = 5, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well-separated clusters of standardised (negative too) float64 features."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    centres = rng.standard_normal((k, d)) * 4
    X = centres[labels] + rng.standard_normal((n, d)) * 0.3
    return (X - X.mean(axis=0)) / X.std(axis=0), labels


def test_batches_use_features_as_given(backend: Backend) -> None:
    X, y = _blobs(10, k=3)
    it = FeatureBatchIterator(X, y, batch_size=4, backend=backend, shuffle=False, num_classes=3)
    batches = list(it)
    assert [int(Xb.shape[0]) for Xb, _ in batches] == [4, 4, 2]
    np.testing.assert_allclose(to_numpy(batches[0][0]), X[:4].astype(np.float32), rtol=1e-6)
    np.testing.assert_array_equal(to_numpy(batches[0][1]).argmax(axis=1), y[:4])


def test_batches_check_their_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        FeatureBatchIterator(np.full((3, 2), np.nan), np.zeros(3, int), batch_size=2)
    with pytest.raises(TypeError, match="real numbers"):
        FeatureBatchIterator(np.array([["a", "b"]]), np.zeros(1, int), batch_size=2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        FeatureBatchIterator(np.zeros((3, 2)), np.array([0, 1, 2]), batch_size=2, num_classes=2)


def test_train_on_float_features_with_five_classes(backend: Backend) -> None:
    X, y = _blobs()
    net = Network([3, 16, 5], backend=backend, seed=0)
    history = train(net, X, y, epochs=15, batch_size=32, learning_rate=0.01, seed=0)
    assert history.records[-1].train_accuracy > 0.95
    with pytest.raises(ValueError, match="max_shift"):
        train(net, X, y, epochs=1, max_shift=1)


def test_train_regression_targets_with_early_stopping() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (400, 2))
    Y = np.stack([X[:, 0] - X[:, 1], 0.5 * X[:, 0]], axis=1)
    net = Network([2, 16, 2], output="identity", cost="quadratic", seed=0)
    validation = (X[300:], Y[300:])
    history = train(
        net, X[:300], Y[:300], validation=validation, epochs=60, learning_rate=0.01, patience=5
    )
    assert history.best_epoch is not None
    assert history.records[-1].train_cost < 0.01
