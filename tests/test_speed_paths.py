"""The fused / in-place code paths of the training step give the textbook results."""

from __future__ import annotations

import numpy as np
import pytest

from anyarray_nn import SGD, Network
from anyarray_nn.backend import Backend, from_numpy, to_numpy
from anyarray_nn.nn.activations import get_activation
from anyarray_nn.nn.costs import get_cost


@pytest.mark.parametrize("scale", [1.0, 300.0])
def test_fused_softmax_cross_entropy_equals_separate(backend: Backend, scale: float) -> None:
    rng = np.random.default_rng(1)
    Z_host = rng.standard_normal((7, 5)) * scale
    Y_host = np.eye(5)[rng.integers(0, 5, 7)]
    Z = from_numpy(Z_host, backend, "float64")
    Y = from_numpy(Y_host, backend, "float64")
    softmax = get_activation("softmax", output=True)
    cost = get_cost("cross_entropy", softmax)
    A, value = cost.forward_value(backend.xp, softmax, Z, Y)
    A_ref = softmax.forward(backend.xp, Z)
    np.testing.assert_allclose(to_numpy(A), to_numpy(A_ref), rtol=1e-12, atol=1e-300)
    shifted = Z_host - Z_host.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -np.sum(Y_host * log_softmax) / Z_host.shape[0]
    assert np.isfinite(float(value))
    np.testing.assert_allclose(float(value), expected, rtol=1e-12)


@pytest.mark.parametrize("output", ["sigmoid", "identity"])
def test_forward_value_default_matches_value(backend: Backend, output: str) -> None:
    phi = get_activation(output, output=True)
    cost = get_cost("quadratic" if output == "identity" else "cross_entropy", phi)
    rng = np.random.default_rng(2)
    Z = from_numpy(rng.standard_normal((4, 3)), backend, "float64")
    Y = from_numpy(rng.random((4, 3)), backend, "float64")
    A, value = cost.forward_value(backend.xp, phi, Z, Y)
    assert float(value) == pytest.approx(float(cost.value(backend.xp, Z, A, Y)), rel=1e-12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_backward_does_not_touch_its_inputs(backend: Backend, activation: str) -> None:
    phi = get_activation(activation)
    rng = np.random.default_rng(3)
    Z_host = rng.standard_normal((6, 4))
    dA_host = rng.standard_normal((6, 4))
    Z = from_numpy(Z_host, backend, "float64")
    dA = from_numpy(dA_host, backend, "float64")
    A = phi.forward(backend.xp, Z)
    A_host = to_numpy(A).copy()
    out = to_numpy(phi.backward(backend.xp, Z, A, dA))
    np.testing.assert_array_equal(to_numpy(Z), Z_host)
    np.testing.assert_array_equal(to_numpy(dA), dA_host)
    np.testing.assert_array_equal(to_numpy(A), A_host)
    h = 1e-6
    numeric = (
        to_numpy(phi.forward(backend.xp, from_numpy(Z_host + h, backend, "float64")))
        - to_numpy(phi.forward(backend.xp, from_numpy(Z_host - h, backend, "float64")))
    ) / (2 * h)
    mask = np.abs(Z_host) > 1e-3  # ReLU has no derivative at 0
    np.testing.assert_allclose(out[mask], (dA_host * numeric)[mask], rtol=1e-6, atol=1e-9)


# 1/m on the error (small, or m <= n_in) or on dW and db (m > n_in and a large error)
@pytest.mark.parametrize(("hidden", "batch"), [(5, 3), (5, 40), (300, 256)])
def test_train_step_cost_and_gradients_match_textbook(
    backend: Backend, hidden: int, batch: int
) -> None:
    """The step's cost equals ``Network.cost``, its gradients the plain formulas, and the
    caller's X and Y are left alone."""
    net = Network([6, hidden, 3], dtype="float64", backend=backend, seed=4)
    rng = np.random.default_rng(5)
    X_host = rng.random((batch, 6))
    y_host = rng.integers(0, 3, batch)
    X = from_numpy(X_host, backend, "float64")
    y = from_numpy(y_host, backend)
    expected_cost = float(net.cost(X, y, 0.01))
    (W1, W2), (b1, b2) = net.get_weights()
    grads = net.gradients(X, y, 0.01)
    l2 = 0.005 * (np.sum(W1 * W1) + np.sum(W2 * W2))
    assert float(grads.cost) + l2 == pytest.approx(expected_cost, rel=1e-12)
    Z1 = X_host @ W1.T + b1
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ W2.T + b2
    P = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    D2 = P - np.eye(3)[y_host]
    D1 = (D2 @ W2) * (Z1 > 0)
    np.testing.assert_allclose(to_numpy(grads.dW[1]), D2.T @ A1 / batch + 0.01 * W2, rtol=1e-10)
    np.testing.assert_allclose(to_numpy(grads.dW[0]), D1.T @ X_host / batch + 0.01 * W1, atol=1e-12)
    np.testing.assert_allclose(to_numpy(grads.db[0]), D1.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(to_numpy(grads.deltas[1]), D2, atol=1e-12)
    net.train_step(X, y, SGD(0.1))
    np.testing.assert_array_equal(to_numpy(X), X_host)
    np.testing.assert_array_equal(to_numpy(y), y_host)
