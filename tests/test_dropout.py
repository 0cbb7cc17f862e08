"""[dropout]: keep rate, inverted scaling, off at evaluation, gradients with a fixed mask."""

from __future__ import annotations

import numpy as np
import pytest

from anyarray_nn.backend import Backend, resolve_backend, to_numpy
from anyarray_nn.nn import propagation
from anyarray_nn.nn.dropout import DropoutMasks
from anyarray_nn.nn.network import Network
from anyarray_nn.training import train
from anyarray_nn.training.config import TrainingConfig


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_keep_rate_and_scaling(backend: Backend, rate: float) -> None:
    masks = DropoutMasks(backend, "float32", rate, [300, 40], batch_size=64, seed=0)
    got = masks.masks(64)
    assert [tuple(m.shape) for m in got] == [(64, 300), (64, 40)]
    values = to_numpy(got[0])
    keep = 1.0 - rate
    np.testing.assert_allclose(np.unique(values), [0.0, 1.0 / keep], rtol=1e-6)
    assert (values > 0).mean() == pytest.approx(keep, abs=0.01)  # 19200 draws
    assert values.mean() == pytest.approx(1.0, abs=0.03)  # inverted: expectation kept
    bank = to_numpy(masks.bank)
    assert (bank > 0).mean() == pytest.approx(keep, abs=0.002)
    assert not np.array_equal(values, to_numpy(masks.masks(64)[0]))  # a new window


def test_same_masks_on_every_backend(backend: Backend) -> None:
    ref = DropoutMasks(resolve_backend("numpy"), "float32", 0.3, [50], batch_size=8, seed=4)
    got = DropoutMasks(backend, "float32", 0.3, [50], batch_size=8, seed=4)
    for _ in range(3):
        np.testing.assert_array_equal(to_numpy(got.masks(8)[0]), to_numpy(ref.masks(8)[0]))


def test_bad_rate() -> None:
    with pytest.raises(ValueError, match="dropout rate"):
        DropoutMasks(resolve_backend("numpy"), "float32", 1.0, [5], batch_size=2)
    with pytest.raises(ValueError, match="dropout"):
        TrainingConfig(dropout=-0.1)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_gradients_with_a_fixed_mask_match_finite_differences(activation: str) -> None:
    net = Network([6, 5, 4, 3], activation=activation, dtype="float64", seed=1)
    xp = net.xp
    rng = np.random.default_rng(2)
    X = xp.asarray(rng.normal(size=(7, 6)))
    Y = xp.asarray(np.eye(3)[rng.integers(0, 3, size=7)])
    masks = [
        xp.asarray((rng.random((7, n)) >= 0.4) / 0.6) for n in (5, 4)
    ]  # a fixed mask per hidden layer
    grads = propagation.backprop(net, X, Y, 0.0, masks)
    eps = 1e-6
    for l, W in enumerate(net.weights):
        numeric = np.zeros(W.shape)
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                saved = float(W[i, j])
                W[i, j] = saved + eps
                up = float(propagation.forward_with_cost(net, X, Y, masks)[2])
                W[i, j] = saved - eps
                down = float(propagation.forward_with_cost(net, X, Y, masks)[2])
                W[i, j] = saved
                numeric[i, j] = (up - down) / (2 * eps)
        np.testing.assert_allclose(np.asarray(grads.dW[l]), numeric, rtol=1e-5, atol=1e-8)


def test_off_at_evaluation_and_training_runs(backend: Backend) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=64)

    def run(b: Backend) -> tuple[np.ndarray, np.ndarray]:
        net = Network([784, 16, 10], seed=0, backend=b)
        train(net, images, labels, epochs=2, batch_size=16, dropout=0.5, progress=False)
        X = net.asarray(images.reshape(64, -1).astype(np.float32) / 255.0)
        p1, p2 = to_numpy(net.predict_proba(X)), to_numpy(net.predict_proba(X))
        np.testing.assert_array_equal(p1, p2)  # no mask at evaluation: deterministic
        return p1, to_numpy(net.weights[0])

    p, w = run(backend)
    p_ref, w_ref = run(resolve_backend("numpy"))
    np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p, p_ref, rtol=1e-4, atol=1e-6)


def test_resume_with_dropout_and_distortions_equals_uninterrupted_run(tmp_path) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(96, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=96)
    config = TrainingConfig(
        epochs=3, batch_size=32, dropout=0.3, distortions="ciresan", max_shift=1, seed=3
    )
    reference = Network([784, 12, 10], seed=0)
    train(reference, images, labels, config=config, progress=False)

    class StopError(Exception):
        pass

    def stop_after_one(record) -> None:
        if record.epoch == 1:
            raise StopError

    checkpoint = tmp_path / "run.ckpt.npz"
    with pytest.raises(StopError):
        train(Network([784, 12, 10], seed=0), images, labels, config=config,
              checkpoint=checkpoint, callback=stop_after_one, progress=False)  # fmt: skip
    resumed = Network([784, 12, 10], seed=5)
    train(resumed, images, labels, config=config, checkpoint=checkpoint, resume=True,
          progress=False)  # fmt: skip
    for a, b in zip(reference.get_weights()[0], resumed.get_weights()[0], strict=True):
        np.testing.assert_array_equal(a, b)
