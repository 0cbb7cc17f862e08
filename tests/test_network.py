"""The core network: gradients, cross-backend agreement, learning, dtypes/devices, errors."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

from anyarray_nn import SGD, Adam, Momentum, Network, to_numpy
from anyarray_nn.backend import Backend, from_numpy

HIDDEN = ["sigmoid", "relu", "tanh", "identity"]
OUTPUT_COST = [
    ("sigmoid", "quadratic"),
    ("softmax", "quadratic"),
    ("identity", "quadratic"),
    ("sigmoid", "cross_entropy"),
    ("softmax", "cross_entropy"),
]


def _targets(rng: np.random.Generator, m: int, n_out: int, output: str) -> np.ndarray:
    if output == "softmax":
        return np.eye(n_out)[rng.integers(0, n_out, m)]
    return rng.random((m, n_out))


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize(("output", "cost"), OUTPUT_COST)
def test_gradients_match_central_differences(
    backend: Backend, activation: str, output: str, cost: str
) -> None:
    rng = np.random.default_rng(1)
    net = Network(
        [5, 4, 3, 3],
        activation=activation,
        output=output,
        cost=cost,
        init="lecun",
        dtype="float64",
        backend=backend,
        seed=2,
    )
    X = from_numpy(rng.standard_normal((6, 5)), backend, "float64")
    Y = from_numpy(_targets(rng, 6, 3, output), backend, "float64")
    weight_decay = 0.05
    grads = net.gradients(X, Y, weight_decay)
    analytic = np.concatenate([to_numpy(g).ravel() for g in [*grads.dW, *grads.db]])

    Ws, bs = net.get_weights()
    params = [*Ws, *bs]
    numeric = []
    h = 1e-6
    for p in params:
        flat = p.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            net.set_weights(params[: len(Ws)], params[len(Ws) :])
            c_plus = float(net.cost(X, Y, weight_decay))
            flat[i] = old - h
            net.set_weights(params[: len(Ws)], params[len(Ws) :])
            c_minus = float(net.cost(X, Y, weight_decay))
            flat[i] = old
            numeric.append((c_plus - c_minus) / (2 * h))
    numeric_arr = np.array(numeric)
    rel = np.linalg.norm(analytic - numeric_arr) / (
        np.linalg.norm(analytic) + np.linalg.norm(numeric_arr)
    )
    assert rel < 1e-6, f"relative error {rel:.2e}"


def _numpy_reference_step(
    Ws: list[np.ndarray], bs: list[np.ndarray], X: np.ndarray, Y: np.ndarray, lr: float
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sigmoid hidden, softmax + cross-entropy, one SGD step, written out plainly.

    Returns new lists of new arrays; the arguments are left alone.
    """
    Ws, bs = list(Ws), list(bs)
    A, As, Zs = X, [X], []
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = A @ W.T + b
        if l == len(Ws) - 1:
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
        else:
            A = 1.0 / (1.0 + np.exp(-Z))
        Zs.append(Z)
        As.append(A)
    delta = As[-1] - Y
    m = X.shape[0]
    for l in range(len(Ws) - 1, -1, -1):
        dW = delta.T @ As[l] / m
        db = delta.mean(axis=0)
        if l > 0:
            delta = (delta @ Ws[l]) * As[l] * (1 - As[l])
        Ws[l] = Ws[l] - lr * dW
        bs[l] = bs[l] - lr * db
    return Ws, bs


def test_matches_plain_numpy_reference(backend: Backend) -> None:
    """Five SGD steps against NumPy from weights copied before the first step: the test
    fails if the step does nothing or if the reference shares arrays with the network."""
    rng = np.random.default_rng(3)
    X = rng.random((16, 7))
    Y = np.eye(4)[rng.integers(0, 4, 16)]
    net = Network(
        [7, 6, 4], activation="sigmoid", init="lecun", dtype="float64", backend=backend, seed=5
    )
    Ws0, bs0 = ([a.copy() for a in group] for group in net.get_weights())
    Ws, bs = [a.copy() for a in Ws0], [a.copy() for a in bs0]
    opt = SGD(0.5)
    Xd, Yd = from_numpy(X, backend, "float64"), from_numpy(Y, backend, "float64")
    for _ in range(5):
        net.train_step(Xd, Yd, opt)
        Ws, bs = _numpy_reference_step(Ws, bs, X, Y, 0.5)
    got = net.get_weights()[0] + net.get_weights()[1]
    for g, want, start in zip(got, Ws + bs, Ws0 + bs0, strict=True):
        assert np.max(np.abs(want - start)) > 1e-3, "the reference did not move"
        np.testing.assert_allclose(g, want, rtol=0, atol=1e-12)


def test_initial_weights_bit_identical_across_backends(backend: Backend) -> None:
    for dtype in ("float32", "float64"):
        ref = Network([20, 7, 3], init="lecun", dtype=dtype, seed=11)
        net = Network([20, 7, 3], init="lecun", dtype=dtype, backend=backend, seed=11)
        for a, b in zip(
            ref.get_weights()[0] + ref.get_weights()[1],
            net.get_weights()[0] + net.get_weights()[1],
            strict=True,
        ):
            assert a.dtype == b.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize(("dtype", "atol"), [("float64", 1e-10), ("float32", 1e-5)])
def test_training_steps_agree_across_backends(
    backend: Backend, optimizer: str, dtype: str, atol: float
) -> None:
    rng = np.random.default_rng(4)
    X = rng.random((32, 10))
    labels = rng.integers(0, 3, 32)

    def run(b: Backend | str) -> list[np.ndarray]:
        net = Network([10, 8, 8, 3], activation="tanh", dtype=dtype, backend=b, seed=9)
        opt = {"sgd": SGD(0.3), "momentum": Momentum(0.1, 0.9), "adam": Adam(0.01)}[optimizer]
        Xd = net.asarray(X)
        yd = from_numpy(labels, net.backend, "int64")
        for i in range(0, 32, 8):
            net.train_step(Xd[i : i + 8, :], yd[i : i + 8], opt, weight_decay=1e-3)
        W, b_ = net.get_weights()
        return W + b_

    for got, want in zip(run(backend), run("numpy"), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def test_learns_separable_problem(backend: Backend) -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, 300)
    X = centres[labels] + 0.4 * rng.standard_normal((300, 2))
    net = Network([2, 16, 3], backend=backend, seed=0)
    Xd = net.asarray(X)
    yd = from_numpy(labels, net.backend, "int64")
    opt = Adam(0.05)
    for _ in range(60):
        for i in range(0, 300, 50):
            net.train_step(Xd[i : i + 50, :], yd[i : i + 50], opt)
    accuracy = float(np.mean(to_numpy(net.predict(Xd)) == labels))
    assert accuracy > 0.97


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_keep_dtype_and_device(backend: Backend, dtype: str) -> None:
    net = Network([6, 5, 4], backend=backend, dtype=dtype, seed=1)
    xp = backend.xp
    X = from_numpy(np.random.default_rng(0).random((9, 6)), backend, dtype)
    Y = from_numpy(np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3, 0]], backend, dtype)
    outs = [net.forward(X), net.predict_proba(X, batch_size=4), net.cost(X, Y, 0.1)]
    grads = net.gradients(X, Y)
    outs += [*grads.dW, *grads.db, *grads.deltas, grads.cost, *net.weights, *net.biases]
    # NumPy arrays report ``array_api_compat.numpy`` even when made through a wrapper
    # namespace (the read-only test backend): compare with what the weights report.
    array_xp = array_api_compat.array_namespace(net.weights[0])
    for out in outs:
        assert array_api_compat.array_namespace(out) is array_xp
        assert array_api_compat.device(out) == backend.device
        assert out.dtype == getattr(xp, dtype)
    labels = net.predict(X, batch_size=4)
    assert array_api_compat.device(labels) == backend.device
    assert xp.isdtype(labels.dtype, "integral")
    assert tuple(labels.shape) == (9,)
    # batched and unbatched prediction agree
    np.testing.assert_allclose(
        to_numpy(net.predict_proba(X, batch_size=4)),
        to_numpy(net.predict_proba(X, batch_size=None)),
        rtol=1e-6,
    )


def test_cross_entropy_is_finite_for_saturated_outputs(backend: Backend) -> None:
    net = Network(
        [3, 2],
        activation="relu",
        output="softmax",
        init="normal",
        backend=backend,
        dtype="float32",
        seed=0,
    )
    X = from_numpy(np.full((2, 3), 500.0), backend, "float32")
    Y = from_numpy(np.eye(2), backend, "float32")
    assert np.isfinite(float(net.cost(X, Y)))
    sig = Network([3, 2], output="sigmoid", init="normal", backend=backend, seed=0)
    assert np.isfinite(float(sig.cost(X, Y)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sizes": [784, 0, 10]}, ValueError, "layer size 1 must be at least 1"),
        ({"sizes": [784]}, ValueError, "at least an input and an output"),
        ({"sizes": [784, 2.5, 10]}, TypeError, "must be an integer"),
        ({"sizes": [4, 3], "activation": "swish"}, ValueError, "unknown hidden activation"),
        ({"sizes": [4, 3], "output": "relu"}, ValueError, "unknown output activation"),
        ({"sizes": [4, 3], "cost": "hinge"}, ValueError, "unknown cost"),
        (
            {"sizes": [4, 3], "output": "identity", "cost": "cross_entropy"},
            ValueError,
            "needs a 'softmax' or 'sigmoid'",
        ),
        ({"sizes": [4, 3], "init": "xavier"}, ValueError, "unknown init"),
        ({"sizes": [4, 3], "dtype": "float16"}, ValueError, "float32' or 'float64"),
        ({"sizes": [4, 3], "backend": "tensorflow"}, ValueError, "unknown backend"),
    ],
)
def test_invalid_arguments(kwargs: dict, error: type, match: str) -> None:
    kwargs = dict(kwargs)  # a copy: the parametrize dict is shared by every run of the test
    sizes = kwargs.pop("sizes")
    with pytest.raises(error, match=match):
        Network(sizes, **kwargs)


def test_invalid_inputs(backend: Backend) -> None:
    net = Network([4, 3, 2], backend=backend, seed=0)
    xp = backend.xp
    with pytest.raises(ValueError, match=r"shape \(batch, 4\).*wrong input width"):
        net.forward(from_numpy(np.zeros((2, 5)), backend, "float32"))
    with pytest.raises(TypeError, match="must be floating point"):
        net.forward(from_numpy(np.zeros((2, 4), dtype=np.uint8), backend))
    with pytest.raises(TypeError, match="computes in float32"):
        net.forward(from_numpy(np.zeros((2, 4)), backend, "float64"))
    with pytest.raises(TypeError, match=r"network\.asarray"):
        net.forward([[0.0] * 4])
    X = from_numpy(np.zeros((2, 4)), backend, "float32")
    with pytest.raises(ValueError, match=r"Y must have shape \(2, 2\)"):
        net.gradients(X, xp.zeros((2, 3), dtype=xp.float32, device=backend.device))
    with pytest.raises(ValueError, match="weight_decay"):
        net.gradients(X, xp.zeros((2, 2), dtype=xp.float32, device=backend.device), -1.0)


def test_wrong_device_is_named() -> None:
    import array_api_strict

    net = Network([4, 2], backend="array_api_strict", device="device1", seed=0)
    X = array_api_strict.zeros((1, 4), dtype=array_api_strict.float32)
    with pytest.raises(ValueError, match="on device"):
        net.forward(X)


def test_optimizer_arguments() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        SGD(0.0)
    with pytest.raises(ValueError, match="momentum"):
        Momentum(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="beta1"):
        Adam(0.1, beta1=1.0)


def test_network_moves_between_backends(backend: Backend) -> None:
    net = Network([5, 3, 2], seed=3, dtype="float64")
    moved = net.to(backend)
    X = np.random.default_rng(0).random((4, 5))
    np.testing.assert_allclose(
        to_numpy(moved.forward(moved.asarray(X))), to_numpy(net.forward(net.asarray(X))), atol=1e-12
    )


# --- copies copy ------------------------------------------------------------------------


def _host(net: Network) -> list[np.ndarray]:
    W, b = net.get_weights()
    return W + b


def _train(net: Network, steps: int = 3) -> None:
    rng = np.random.default_rng(8)
    X = net.asarray(rng.random((12, net.sizes[0])))
    y = from_numpy(rng.integers(0, net.sizes[-1], 12), net.backend, "int64")
    opt = Momentum(0.2, 0.9)
    for _ in range(steps):
        net.train_step(X, y, opt, weight_decay=1e-3)


def test_get_weights_returns_copies(backend: Backend) -> None:
    net = Network([5, 4, 3], dtype="float64", backend=backend, seed=1)
    kept = _host(net)
    snapshot = [a.copy() for a in kept]
    for a in kept:
        assert a.flags.writeable and a.flags.owndata
    _train(net)
    for a, s in zip(kept, snapshot, strict=True):
        np.testing.assert_array_equal(a, s)  # training moved the network, not the copies
    assert any(np.max(np.abs(a - b)) > 1e-6 for a, b in zip(_host(net), snapshot, strict=True))
    moved = _host(net)
    for a in kept:
        a[...] = 123.0  # writing to a kept copy leaves the network alone
    for a, b in zip(_host(net), moved, strict=True):
        np.testing.assert_array_equal(a, b)


def test_set_weights_keeps_no_reference(backend: Backend) -> None:
    donor = Network([5, 4, 3], dtype="float64", seed=2)
    Ws, bs = donor.get_weights()
    snapshot = [a.copy() for a in Ws + bs]
    net = Network([5, 4, 3], dtype="float64", backend=backend, seed=1)
    net.set_weights(Ws, bs)
    _train(net)
    for a, s in zip(Ws + bs, snapshot, strict=True):
        np.testing.assert_array_equal(a, s)  # training changed the network only
    moved = _host(net)
    for a in Ws + bs:
        a[...] = 0.0  # and the caller's later writes do not reach the network
    for a, b in zip(_host(net), moved, strict=True):
        np.testing.assert_array_equal(a, b)


def test_to_shares_nothing(backend: Backend) -> None:
    net = Network([5, 4, 3], dtype="float64", seed=3)
    clone = net.to(backend)
    before_net, before_clone = _host(net), _host(clone)
    for a, b in zip(before_net, before_clone, strict=True):
        np.testing.assert_array_equal(a, b)
    _train(clone)
    for a, b in zip(_host(net), before_net, strict=True):
        np.testing.assert_array_equal(a, b)  # training the copy leaves the original alone
    after_clone = _host(clone)
    _train(net)
    for a, b in zip(_host(clone), after_clone, strict=True):
        np.testing.assert_array_equal(a, b)  # and the other way round


def test_copy_and_load_parameters_share_nothing(backend: Backend) -> None:
    net = Network([5, 4, 3], dtype="float64", backend=backend, seed=4)
    saved = net.copy_parameters()
    saved_host = [to_numpy(p).copy() for p in saved]
    _train(net)
    for p, h in zip(saved, saved_host, strict=True):
        np.testing.assert_array_equal(to_numpy(p), h)
    net.load_parameters(saved)
    _train(net)
    for p, h in zip(saved, saved_host, strict=True):
        np.testing.assert_array_equal(to_numpy(p), h)


# --- training changes the weights, on every backend, as NumPy does -------------------------


def _run_steps(
    backend: Backend | str | object, optimizer: str, dtype: str, steps: int = 4
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Initial and final host weights of a few steps of ``optimizer`` with L2."""
    rng = np.random.default_rng(6)
    X = rng.random((24, 6))
    labels = rng.integers(0, 3, 24)
    net = Network([6, 5, 3], activation="sigmoid", dtype=dtype, backend=backend, seed=7)
    start = _host(net)
    opt = {"sgd": SGD(0.5), "momentum": Momentum(0.2, 0.9), "adam": Adam(0.05)}[optimizer]
    Xd = net.asarray(X)
    yd = from_numpy(labels, net.backend, "int64")
    for i in range(steps):
        rows = slice(6 * i, 6 * i + 6)
        net.train_step(Xd[rows, :], yd[rows], opt, weight_decay=1e-2)
    assert opt.steps == steps
    return start, _host(net)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_training_changes_weights_and_matches_numpy(backend: Backend, optimizer: str) -> None:
    """On the read-only backend the first step cannot be in place (the pure update runs),
    later ones can: both must move the weights exactly as on NumPy."""
    start, got = _run_steps(backend, optimizer, "float64")
    _, want = _run_steps("numpy", optimizer, "float64")
    for s, g, w in zip(start, got, want, strict=True):
        assert np.max(np.abs(g - s)) > 1e-3, "the weights did not change"
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_jax_network_trains_and_matches_numpy(optimizer: str) -> None:
    """JAX arrays are immutable: an in-place step would rebind a name and change nothing."""
    jnp = pytest.importorskip("jax.numpy", reason="jax is not installed")
    start, got = _run_steps(jnp, optimizer, "float32")
    _, want = _run_steps("numpy", optimizer, "float32")
    for s, g, w in zip(start, got, want, strict=True):
        assert np.max(np.abs(g - s)) > 1e-3, "the weights did not change"
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-5)
