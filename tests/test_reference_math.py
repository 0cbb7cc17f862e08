"""The math core against independent references: plain NumPy written here, literal formulas
and torch autograd; never the code under test.

Each test names what a planted bug would change (``benchmarks/mutation.py``): optimiser
steps with non-default hyper-parameters, the forward pass, every initial weight scale, the
hidden layers' errors, the saturation thresholds, the stability shifts at logits of +-1000
and the input checks of every public method.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from anyarray_nn import SGD, Adam, Momentum, Network, get_optimizer
from anyarray_nn.backend import resolve_backend
from anyarray_nn.nn.activations import ACTIVATIONS, get_activation
from anyarray_nn.nn.costs import get_cost
from anyarray_nn.nn.initializers import bias_default, init_layer, weight_std

NP = resolve_backend("numpy")
xp = NP.xp
SHAPES = [(3, 2), (3,)]

# --- optimisers: a NumPy reference, step by step ----------------------------------------


def _reference_steps(name: str, hp: dict, params, grads_per_step, lrs):  # type: ignore[no-untyped-def]
    """Parameters after each step, written from the papers' update rules."""
    params = [p.copy() for p in params]
    v = [np.zeros_like(p) for p in params]
    m = [np.zeros_like(p) for p in params]
    out = []
    for t, (grads, lr) in enumerate(zip(grads_per_step, lrs, strict=True), start=1):
        for i, g in enumerate(grads):
            if name == "sgd":
                params[i] = params[i] - lr * g
            elif name == "momentum":
                v[i] = hp["momentum"] * v[i] - lr * g
                params[i] = params[i] + v[i]
            else:
                b1, b2, eps = hp["beta1"], hp["beta2"], hp["epsilon"]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g**2
                # Kingma & Ba (2015), section 2's last paragraph: the bias-corrected
                # moments, with the epsilon that the efficient form adds to sqrt(v) itself.
                m_hat = m[i] / (1 - b1**t)
                v_hat = v[i] / (1 - b2**t)
                params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps / math.sqrt(1 - b2**t))
        out.append([p.copy() for p in params])
    return out


HYPER = {
    "sgd": {},
    "momentum": {"momentum": 0.7},
    "adam": {"beta1": 0.8, "beta2": 0.95, "epsilon": 0.1},
}
LRS = [0.3, 0.05, 0.2, 0.1]


def _problem(seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in LRS]
    return params, grads


def _make(name: str):  # type: ignore[no-untyped-def]
    return {"sgd": SGD, "momentum": Momentum, "adam": Adam}[name](LRS[0], **HYPER[name])


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("path", ["pure", "in_place", "step"])
def test_optimizer_steps_match_reference(name: str, path: str) -> None:
    params, grads = _problem()
    want = _reference_steps(name, HYPER[name], params, grads, LRS)
    opt = _make(name)
    current = [xp.asarray(p.copy()) for p in params]
    state = opt.init_state(xp, current)
    assert len(state) == {"sgd": 0, "momentum": 2, "adam": 4}[name]
    for t, (g, lr, expected) in enumerate(zip(grads, LRS, want, strict=True), start=1):
        opt.learning_rate = lr
        g = [xp.asarray(a.copy()) for a in g]
        if path == "pure":
            current, state = opt.update(xp, current, g, state, t)
        elif path == "in_place":
            opt.update_in_place(xp, current, g, state, t)
        else:
            current = opt.step(xp, current, g)
            assert opt.steps == t
        for got, ref in zip(current, expected, strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_momentum_state_is_the_velocity_and_adam_state_the_moments() -> None:
    params, grads = _problem(1)
    mom = Momentum(0.5, momentum=0.7)
    _new, state = mom.update(xp, params, grads[0], mom.init_state(xp, params), 1)
    for v, g in zip(state, grads[0], strict=True):
        np.testing.assert_allclose(v, -0.5 * g, rtol=1e-14)
    adam = Adam(0.5, beta1=0.8, beta2=0.95)
    _, state = adam.update(xp, params, grads[0], adam.init_state(xp, params), 1)
    for m, v, g in zip(state[:2], state[2:], grads[0], strict=True):
        np.testing.assert_allclose(m, 0.2 * g, rtol=1e-14)
        np.testing.assert_allclose(v, 0.05 * g * g, rtol=1e-12)


def test_momentum_zero_is_plain_gradient_descent_and_beta_zero_works() -> None:
    params, grads = _problem(2)
    want = _reference_steps("sgd", {}, params, grads, LRS)
    opt = Momentum(LRS[0], momentum=0.0)
    current = [p.copy() for p in params]
    for g, lr, expected in zip(grads, LRS, want, strict=True):
        opt.learning_rate = lr
        current = opt.step(xp, current, g)
        for got, ref in zip(current, expected, strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    hp = {"beta1": 0.0, "beta2": 0.0, "epsilon": 0.1}
    want = _reference_steps("adam", hp, params, grads, LRS)
    opt = Adam(LRS[0], **hp)
    current = [p.copy() for p in params]
    for g, lr in zip(grads, LRS, strict=True):
        opt.learning_rate = lr
        current = opt.step(xp, current, g)
    for got, ref in zip(current, want[-1], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_optimizer_defaults_and_config_are_literal() -> None:
    adam = Adam()
    assert (adam.learning_rate, adam.beta1, adam.beta2, adam.epsilon) == (1e-3, 0.9, 0.999, 1e-8)
    assert adam.config() == {
        "name": "adam",
        "learning_rate": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
    }
    assert Momentum(0.02).momentum == 0.9
    assert Momentum(0.02).config() == {"name": "momentum", "learning_rate": 0.02, "momentum": 0.9}
    assert SGD(0.1).config() == {"name": "sgd", "learning_rate": 0.1}
    assert (SGD.slots, Momentum.slots, Adam.slots) == (0, 1, 2)
    for opt in (SGD(0.1), Momentum(0.1), Adam()):
        assert opt.steps == 0 and opt.state == [] and opt.state_arrays() == []
        for value in opt.config().values():
            assert type(value) in (str, float)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SGD(0.0), "learning_rate must be a positive"),
        (lambda: SGD(-0.1), "learning_rate must be a positive"),
        (lambda: SGD(float("nan")), "learning_rate must be a positive"),
        (lambda: SGD(float("inf")), "learning_rate must be a positive"),
        (lambda: Momentum(0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda: Momentum(0.1, momentum=-0.1), r"momentum must be in \[0, 1\)"),
        (lambda: Adam(0.1, beta1=1.0), r"beta1 must be in \[0, 1\)"),
        (lambda: Adam(0.1, beta1=-0.5), r"beta1 must be in \[0, 1\)"),
        (lambda: Adam(0.1, beta2=1.0), r"beta2 must be in \[0, 1\)"),
        (lambda: Adam(0.1, beta2=-0.5), r"beta2 must be in \[0, 1\)"),
        (lambda: get_optimizer("rmsprop", 0.1), "unknown optimizer 'rmsprop'; choose one of"),
    ],
)
def test_optimizer_arguments_are_checked(make, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        make()


def test_get_optimizer_names() -> None:
    assert type(get_optimizer("gd", 0.5)) is SGD and get_optimizer("SGD", 0.5).learning_rate == 0.5
    mom = get_optimizer("Momentum", 0.2, momentum=0.3)
    assert type(mom) is Momentum and (mom.learning_rate, mom.momentum) == (0.2, 0.3)
    adam = get_optimizer("adam", 0.01, beta1=0.5)
    assert type(adam) is Adam and (adam.learning_rate, adam.beta1, adam.beta2) == (0.01, 0.5, 0.999)
    same = Adam()
    assert get_optimizer(same, 0.5) is same
    assert get_optimizer("momentum", 0.1).momentum == 0.9


def test_state_arrays_and_load_state() -> None:
    params, grads = _problem(3)
    opt = Momentum(0.1, momentum=0.5)
    opt.step(xp, [p.copy() for p in params], grads[0])
    saved = opt.state_arrays()
    assert saved == opt.state and saved is not opt.state
    other = Momentum(0.1, momentum=0.5)
    other.load_state(saved, "1")
    assert other.steps == 1 and other.state == saved and other.state is not saved


# --- the forward pass, against plain NumPy ----------------------------------------------

_PHI = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "identity": lambda z: z,
    "softmax": lambda z: (
        np.exp(z - z.max(1, keepdims=True))
        / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
    ),
}


def _reference_forward(Ws, bs, X, hidden: str, output: str):  # type: ignore[no-untyped-def]
    """Zs and As (X first) of the essay's (10), from host copies."""
    A, Zs, As = X, [], [X]
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = A @ W.T + b
        A = _PHI[output if l == len(Ws) - 1 else hidden](Z)
        Zs.append(Z)
        As.append(A)
    return Zs, As


def _net_with_weights(sizes, hidden="relu", output="softmax", cost="cross_entropy", seed=0):  # type: ignore[no-untyped-def]
    """A float64 network with weights drawn here (so the reference owns its own copies)."""
    rng = np.random.default_rng(seed + 100)
    Ws = [rng.standard_normal((o, i)) for i, o in itertools.pairwise(sizes)]
    bs = [rng.standard_normal(o) for o in sizes[1:]]
    net = Network(sizes, activation=hidden, output=output, cost=cost, dtype="float64", seed=0)
    net.set_weights(Ws, bs)
    return net, Ws, bs


@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "tanh", "identity"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity"])
def test_forward_and_predict_match_reference(hidden: str, output: str) -> None:
    cost = "quadratic" if output == "identity" else "cross_entropy"
    net, Ws, bs = _net_with_weights([5, 7, 6, 4], hidden, output, cost)
    X = np.random.default_rng(1).standard_normal((11, 5))
    want = _reference_forward(Ws, bs, X, hidden, output)[1][-1]
    Xd = net.asarray(X)
    np.testing.assert_allclose(net.forward(Xd), want, rtol=1e-12, atol=1e-14)
    for batch_size in (None, 4096, 11, 3, 1):
        np.testing.assert_allclose(
            net.predict_proba(Xd, batch_size=batch_size), want, rtol=1e-12, atol=1e-14
        )
    np.testing.assert_array_equal(net.predict(Xd, batch_size=4), want.argmax(1))
    np.testing.assert_array_equal(net.predict(Xd), want.argmax(1))


def test_predict_proba_batch_size_is_checked() -> None:
    net, _, _ = _net_with_weights([3, 2])
    X = net.asarray(np.ones((4, 3)))
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f"batch_size must be >= 1, not {bad}"):
            net.predict_proba(X, batch_size=bad)


def test_batch_of_one_and_width_one_layers() -> None:
    net, Ws, bs = _net_with_weights([1, 1, 1], "tanh", "sigmoid", "cross_entropy")
    X = np.array([[0.7]])
    want = _reference_forward(Ws, bs, X, "tanh", "sigmoid")[1][-1]
    np.testing.assert_allclose(net.forward(net.asarray(X)), want, rtol=1e-13)
    _check_gradients_against_torch(net, Ws, bs, X, np.array([[1.0]]), "tanh", "sigmoid", "ce")


# --- costs, gradients and hidden errors against torch autograd --------------------------


def _torch_cost(torch, Z, Y, output: str, cost: str):  # type: ignore[no-untyped-def]
    m = Z.shape[0]
    if cost == "quadratic":
        A = {"softmax": lambda z: torch.softmax(z, 1), "sigmoid": torch.sigmoid}.get(
            output, lambda z: z
        )(Z)
        return 0.5 * ((A - Y) ** 2).sum() / m
    if output == "softmax":
        return -(Y * torch.log_softmax(Z, 1)).sum() / m
    return torch.nn.functional.binary_cross_entropy_with_logits(Z, Y, reduction="sum") / m


def _check_gradients_against_torch(net, Ws, bs, X, Y, hidden, output, cost, decay=0.0):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    act = {
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "identity": lambda z: z,
    }[hidden]
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    A, Zs = torch.tensor(X), []
    for l, (W, b) in enumerate(zip(tW, tb, strict=True)):
        Z = A @ W.T + b
        Z.retain_grad()
        Zs.append(Z)
        A = act(Z) if l < len(tW) - 1 else A
    cost_value = _torch_cost(torch, Zs[-1], torch.tensor(Y), output, cost)
    l2 = 0.5 * decay * sum((W * W).sum() for W in tW)
    (cost_value + l2).backward()
    cost_value, l2 = float(cost_value.detach()), float(l2.detach()) if decay else 0.0
    grads = net.gradients(net.asarray(X), net.asarray(Y), weight_decay=decay)
    m = X.shape[0]
    assert float(grads.cost) == pytest.approx(cost_value, rel=1e-12)
    assert float(net.cost(net.asarray(X), net.asarray(Y), decay)) == pytest.approx(
        cost_value + l2, rel=1e-12
    )
    for l in range(len(Ws)):
        np.testing.assert_allclose(grads.dW[l], tW[l].grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(grads.db[l], tb[l].grad.numpy(), rtol=1e-9, atol=1e-12)
        # delta^l is the error of one sample: m times the gradient of the mean cost.
        np.testing.assert_allclose(grads.deltas[l], m * Zs[l].grad.numpy(), rtol=1e-9, atol=1e-12)
    want_As = _reference_forward(Ws, bs, X, hidden, output)[1]
    assert len(grads.activations) == len(Ws) + 1
    for got, ref in zip(grads.activations, want_As, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("hidden", "output", "cost"),
    [
        ("relu", "softmax", "cross_entropy"),
        ("sigmoid", "sigmoid", "cross_entropy"),
        ("tanh", "identity", "quadratic"),
        ("sigmoid", "softmax", "quadratic"),
        ("identity", "sigmoid", "quadratic"),
    ],
)
@pytest.mark.parametrize("decay", [0.0, 0.3])
def test_gradients_and_hidden_deltas_match_autograd(hidden, output, cost, decay) -> None:  # type: ignore[no-untyped-def]
    net, Ws, bs = _net_with_weights([5, 7, 6, 4], hidden, output, cost, seed=2)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((9, 5))
    Y = np.eye(4)[rng.integers(0, 4, 9)]
    if output == "identity":
        Y = rng.standard_normal((9, 4))
    _check_gradients_against_torch(net, Ws, bs, X, Y, hidden, output, cost, decay)


def test_gradients_of_a_large_batch_match_autograd() -> None:
    # m > n_in and m * n_out above the small-size cutoff: 1/m goes on dW and db.
    net, Ws, bs = _net_with_weights([3, 250, 2], "tanh", "softmax", "cross_entropy", seed=4)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 3))
    Y = np.eye(2)[rng.integers(0, 2, 300)]
    _check_gradients_against_torch(net, Ws, bs, X, Y, "tanh", "softmax", "ce", 0.1)


def test_integer_labels_equal_one_hot_targets() -> None:
    net, _, _ = _net_with_weights([4, 3, 5])
    rng = np.random.default_rng(6)
    X = net.asarray(rng.standard_normal((7, 4)))
    labels = rng.integers(0, 5, 7)
    by_label = net.gradients(X, xp.asarray(labels))
    by_row = net.gradients(X, net.asarray(np.eye(5)[labels]))
    for a, b in zip(by_label.dW + by_label.db, by_row.dW + by_row.db, strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(net.cost(X, xp.asarray(labels))) == float(
        net.cost(X, net.asarray(np.eye(5)[labels]))
    )


def test_train_step_applies_the_optimizer_to_the_gradients() -> None:
    net, Ws, bs = _net_with_weights([4, 3, 2], "sigmoid", "softmax", "cross_entropy")
    X = np.random.default_rng(7).standard_normal((5, 4))
    Y = np.eye(2)[[0, 1, 1, 0, 1]]
    grads = net.gradients(net.asarray(X), net.asarray(Y), 0.2)
    expected = [p - 0.5 * np.asarray(g) for p, g in zip(Ws + bs, grads.dW + grads.db, strict=True)]
    returned = net.train_step(net.asarray(X), net.asarray(Y), SGD(0.5), weight_decay=0.2)
    W, b = net.get_weights()
    for got, want in zip(W + b, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(returned.dW[0], grads.dW[0], rtol=1e-13)


# --- activations at their boundaries ----------------------------------------------------


def test_softmax_is_stable_at_logits_of_1000() -> None:
    Z = xp.asarray([[1000.0, 999.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    A = ACTIVATIONS["softmax"].forward(xp, Z)
    e = math.exp(-1.0)
    np.testing.assert_allclose(A[0], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-14, atol=0)
    np.testing.assert_allclose(A[1], [1 / 3] * 3, rtol=1e-14)
    softmax = get_activation("softmax", output=True)
    fused = get_cost("cross_entropy", softmax)
    Y = xp.asarray([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    A2, C = fused.forward_value(xp, softmax, Z, Y)
    np.testing.assert_allclose(A2, A, rtol=1e-14)
    # -log softmax: 1 + log(1 + e^-1) for row one, log 3 for row two; mean of the two.
    assert float(C) == pytest.approx((1 + math.log1p(e) + math.log(3)) / 2, rel=1e-14)
    Z3 = xp.asarray([[1000.0, 0.0]])
    _, C3 = fused.forward_value(xp, softmax, Z3, xp.asarray([[0.0, 1.0]]))
    assert float(C3) == pytest.approx(1000.0, rel=1e-14)


def test_sigmoid_cross_entropy_is_stable_at_logits_of_1000() -> None:
    sigmoid = get_activation("sigmoid", output=True)
    cost = get_cost("cross_entropy", sigmoid)
    Z = xp.asarray([[1000.0, -1000.0, 1000.0, 0.0]])
    Y = xp.asarray([[0.0, 1.0, 1.0, 1.0]])
    A, C = cost.forward_value(xp, sigmoid, Z, Y)
    np.testing.assert_array_equal(A, [[1.0, 0.0, 1.0, 0.5]])
    assert float(C) == pytest.approx(2000.0 + math.log(2.0), rel=1e-14)
    Z2 = xp.asarray([[2.0], [-3.0]])
    Y2 = xp.asarray([[1.0], [0.0]])
    want = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-3.0))) / 2
    assert float(cost.forward_value(xp, sigmoid, Z2, Y2)[1]) == pytest.approx(want, rel=1e-13)


def test_quadratic_cost_value_and_output_error() -> None:
    identity = get_activation("identity", output=True)
    cost = get_cost("quadratic", identity)
    Z = xp.asarray([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])
    Y = xp.asarray([[0.0, 2.5], [1.0, 1.0], [1.0, 0.0]])
    A, C = cost.forward_value(xp, identity, Z, Y)
    assert float(C) == pytest.approx((1 + 0.25 + 4 + 4 + 1 + 0.25) / (2 * 3), rel=1e-15)
    np.testing.assert_array_equal(cost.output_delta(xp, identity, Z, A, Y), np.asarray(Z) - Y)
    sigmoid = get_activation("sigmoid", output=True)
    quad_sig = get_cost("quadratic", sigmoid)
    A = sigmoid.forward(xp, Z)
    want = (np.asarray(A) - Y) * np.asarray(A) * (1 - np.asarray(A))
    np.testing.assert_allclose(quad_sig.output_delta(xp, sigmoid, Z, A, Y), want, rtol=1e-14)


@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh", "identity"])
def test_element_wise_derivatives(name: str) -> None:
    z = np.array([[-3.0, -0.5, 0.0, 0.25, 2.0]])
    dA = np.array([[0.5, -2.0, 3.0, 1.5, -1.0]])
    s = 1 / (1 + np.exp(-z))
    slope = {
        "sigmoid": s * (1 - s),
        "relu": (z > 0).astype(float),  # 0 at exactly 0
        "tanh": 1 - np.tanh(z) ** 2,
        "identity": np.ones_like(z),
    }[name]
    act = ACTIVATIONS[name]
    Z = xp.asarray(z)
    A = act.forward(xp, Z)
    np.testing.assert_allclose(A, _PHI[name](z), rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(act.backward(xp, Z, A, xp.asarray(dA)), dA * slope, rtol=1e-14)


def test_relu_derivative_at_exact_zero_is_zero() -> None:
    relu = ACTIVATIONS["relu"]
    Z = xp.asarray([[0.0, -0.0, 1e-300, -1e-300]])
    np.testing.assert_array_equal(relu.forward(xp, Z), [[0.0, 0.0, 1e-300, 0.0]])
    got = relu.backward(xp, Z, relu.forward(xp, Z), xp.asarray([[5.0, 5.0, 5.0, 5.0]]))
    np.testing.assert_array_equal(got, [[0.0, 0.0, 5.0, 0.0]])


def test_sigmoid_saturates_to_exact_limits_without_overflow() -> None:
    A = ACTIVATIONS["sigmoid"].forward(xp, xp.asarray([[-1000.0, 1000.0, 0.0]]))
    np.testing.assert_array_equal(A, [[0.0, 1.0, 0.5]])


def test_softmax_backward_is_the_jacobian_product() -> None:
    z = np.array([[0.3, -1.2, 2.0], [1.0, 1.0, -0.5]])
    dA = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    softmax = ACTIVATIONS["softmax"]
    A = softmax.forward(xp, xp.asarray(z))
    a = np.asarray(A)
    want = np.stack([(np.diag(r) - np.outer(r, r)) @ d for r, d in zip(a, dA, strict=True)])
    np.testing.assert_allclose(
        softmax.backward(xp, xp.asarray(z), A, xp.asarray(dA)), want, rtol=1e-13
    )


def test_saturation_masks_at_the_exact_thresholds() -> None:
    lo, hi = 0.01, 1.0 - 0.01  # sigma' < 0.01 beyond these
    probe = xp.asarray([[lo, hi, 0.0099, 0.9901, 0.5, 0.0, 1.0]])
    want = [[False, False, True, True, False, True, True]]
    for name in ("sigmoid", "softmax"):
        np.testing.assert_array_equal(ACTIVATIONS[name].saturated(xp, probe), want)
    edge = 1.0 - 2 * 0.01
    tanh = xp.asarray([[edge, -edge, 0.9801, -0.9801, 0.0, 1.0, -1.0]])
    np.testing.assert_array_equal(
        ACTIVATIONS["tanh"].saturated(xp, tanh), [[False, False, True, True, False, True, True]]
    )
    relu = xp.asarray([[0.0, 1e-300, 2.0]])
    np.testing.assert_array_equal(ACTIVATIONS["relu"].saturated(xp, relu), [[True, False, False]])
    mask = ACTIVATIONS["identity"].saturated(xp, relu)
    assert mask.dtype == xp.bool and mask.shape == (1, 3) and not bool(xp.any(mask))


def test_activation_and_cost_names() -> None:
    assert get_activation("linear").name == "identity"
    assert get_activation("NONE").name == "identity"
    assert get_activation("Logistic", output=True).name == "sigmoid"
    assert get_activation(ACTIVATIONS["tanh"]).name == "tanh"
    assert str(ACTIVATIONS["relu"]) == "relu"
    with pytest.raises(TypeError, match="activation must be a string, not int"):
        get_activation(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown output activation 'tanh'; choose one of sig"):
        get_activation("tanh", output=True)
    with pytest.raises(
        ValueError, match="unknown hidden activation 'softmax'; choose one of sigmoid, relu"
    ):
        get_activation("softmax")
    softmax = ACTIVATIONS["softmax"]
    for alias in ("ce", "crossentropy", "cross-entropy", "Cross_Entropy"):
        assert get_cost(alias, softmax).name == "cross_entropy"
    assert get_cost("MSE", softmax).name == "quadratic"
    assert str(get_cost(get_cost("mse", softmax), softmax)) == "quadratic"
    with pytest.raises(TypeError, match="cost must be a string, not float"):
        get_cost(1.0, softmax)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown cost 'hinge'; choose one of quadratic, cross"):
        get_cost("hinge", softmax)
    with pytest.raises(ValueError, match="not 'identity'; use cost='quadratic'"):
        get_cost("ce", ACTIVATIONS["identity"])


# --- initial weights: the formulas, and samples drawn from them -------------------------


def test_weight_std_formulas() -> None:
    assert weight_std("normal", 400, 100) == 1.0
    assert weight_std("lecun", 400, 100) == pytest.approx(1 / 20, rel=1e-15)
    assert weight_std("he", 400, 100) == pytest.approx(math.sqrt(2 / 400), rel=1e-15)
    assert weight_std("glorot", 400, 100) == pytest.approx(math.sqrt(2 / 500), rel=1e-15)
    with pytest.raises(ValueError, match="unknown init 'xavier'; choose one of normal, lecun"):
        weight_std("xavier", 4, 3)
    assert [bias_default(i) for i in ("normal", "lecun", "he", "glorot")] == [
        "normal",
        "normal",
        "zeros",
        "zeros",
    ]


@pytest.mark.parametrize("init", ["normal", "lecun", "he", "glorot"])
def test_initial_weight_scales_match_the_formulas(init: str) -> None:
    sizes = [400, 300, 50]
    net = Network(sizes, init=init, dtype="float64", seed=11)
    W, b = net.get_weights()
    std = {
        "normal": lambda i, o: 1.0,
        "lecun": lambda i, o: 1 / math.sqrt(i),
        "he": lambda i, o: math.sqrt(2 / i),
        "glorot": lambda i, o: math.sqrt(2 / (i + o)),
    }[init]
    for l, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        n, sigma = W[l].size, std(n_in, n_out)
        assert W[l].shape == (n_out, n_in)
        # Sample std: relative standard error 1/sqrt(2n); five of them.
        assert W[l].std() == pytest.approx(sigma, rel=5 / math.sqrt(2 * n))
        assert abs(W[l].mean()) < 5 * sigma / math.sqrt(n)
        if init in ("normal", "lecun"):  # the paper's N(0, 1) biases
            assert b[l].std() == pytest.approx(1.0, rel=5 / math.sqrt(2 * n_out))
        else:
            np.testing.assert_array_equal(b[l], np.zeros(n_out))
    assert net.bias_init == ("normal" if init in ("normal", "lecun") else "zeros")


def test_bias_init_overrides_and_layers_are_independent_draws() -> None:
    net = Network([300, 200, 3], init="he", bias_init="normal", dtype="float64", seed=3)
    _W, b = net.get_weights()
    assert b[0].std() == pytest.approx(1.0, rel=5 / math.sqrt(400))
    zeros = Network([300, 200, 3], init="lecun", bias_init="zeros", seed=3)
    assert not np.any(zeros.get_weights()[1][0])
    rng = np.random.default_rng(0)
    W1, b1 = init_layer(rng, 200, 150, "glorot", "normal", "float32")
    assert W1.dtype == np.float32 and b1.dtype == np.float32 and b1.shape == (150,)
    assert W1.std() == pytest.approx(math.sqrt(2 / 350), rel=5 / math.sqrt(2 * W1.size))
    assert b1.std() == pytest.approx(1.0, rel=5 / math.sqrt(300))
    with pytest.raises(ValueError, match="unknown bias_init 'ones'; choose one of normal, zeros"):
        init_layer(rng, 2, 2, "he", "ones", "float64")
    with pytest.raises(ValueError, match="unknown bias_init 'ones'"):
        Network([2, 2], bias_init="ones")


# --- input checks of every public method ------------------------------------------------


def test_input_checks_of_every_public_method() -> None:
    net = Network([4, 3, 2], dtype="float64", seed=0)
    good_X = net.asarray(np.zeros((5, 4)))
    good_Y = net.asarray(np.eye(2)[[0, 1, 0, 1, 1]])
    calls = {
        "predict_proba": lambda X, Y: net.predict_proba(X),
        "cost": lambda X, Y: net.cost(X, Y),
        "gradients": lambda X, Y: net.gradients(X, Y),
        "train_step": lambda X, Y: net.train_step(X, Y, SGD(0.1)),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match=r"convert it with network.asarray\(X\)"):
            call(np.zeros((5, 4)).tolist(), good_Y)
        with pytest.raises(ValueError, match=r"shape \(batch, 4\), got \(5, 3\) \(wrong input"):
            call(net.asarray(np.zeros((5, 3))), good_Y)
        with pytest.raises(TypeError, match="has dtype float32 but the network computes in fl"):
            call(xp.zeros((5, 4), dtype=xp.float32), good_Y)
        with pytest.raises(TypeError, match="must be floating point"):
            call(xp.zeros((5, 4), dtype=xp.int64), good_Y)
        if name == "predict_proba":
            continue
        with pytest.raises(TypeError, match=r"Y must be an array of the network's backend"):
            call(good_X, [[1.0, 0.0]] * 5)
        with pytest.raises(ValueError, match=r"Y must have shape \(5, 2\), got \(5, 3\)"):
            call(good_X, net.asarray(np.zeros((5, 3))))
        with pytest.raises(TypeError, match="Y has dtype float32; use float64 targets"):
            call(good_X, xp.zeros((5, 2), dtype=xp.float32))
        with pytest.raises(ValueError, match="Y has 4 labels for 5 samples"):
            call(good_X, xp.asarray([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"shape \(batch, 4\), got \(4,\)$"):
        net.forward(net.asarray(np.zeros(4)))
    for call in (
        lambda: net.gradients(good_X, good_Y, -0.1),
        lambda: net.gradients(good_X, good_Y, float("nan")),
    ):
        with pytest.raises(ValueError, match="weight_decay must be >= 0"):
            call()
    before = net.get_weights()
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        net.train_step(good_X, good_Y, SGD(0.1), weight_decay=-1.0)
    for a, b in zip(before[0], net.get_weights()[0], strict=True):
        np.testing.assert_array_equal(a, b)  # a refused step loses nothing


def test_sizes_and_parameter_shapes_are_checked() -> None:
    with pytest.raises(TypeError, match="sizes must be a sequence of layer sizes, not str"):
        Network("784-10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sizes must be a sequence of layer sizes, not int"):
        Network(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="layer size 1 must be an integer, not True"):
        Network([3, True])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="layer size 0 must be at least 1, got -1"):
        Network([-1, 2])
    assert Network((np.int64(3), 1)).sizes == (3, 1)
    net = Network([3, 2, 1], seed=0)
    assert net.n_layers == 2 and len(net.parameters) == 4
    assert net.parameters[0] is net.weights[0] and net.parameters[2] is net.biases[0]
    W, b = net.get_weights()
    with pytest.raises(ValueError, match="expected 2 weight and bias arrays, got 1 and 2"):
        net.set_weights(W[:1], b)
    with pytest.raises(ValueError, match="expected 2 weight and bias arrays, got 2 and 1"):
        net.set_weights(W, b[:1])
    with pytest.raises(
        ValueError, match=r"layer 2: expected W \(1, 2\) and b \(1,\), got \(2, 1\)"
    ):
        net.set_weights([W[0], W[1].T], b)
    with pytest.raises(
        ValueError, match=r"layer 1: expected W \(2, 3\) and b \(2,\), got \(2, 3\) and \(3,\)"
    ):
        net.set_weights(W, [np.zeros(3), b[1]])
    with pytest.raises(ValueError, match="expected 2 weight and bias arrays"):
        net.load_parameters(net.copy_parameters()[:3])


def test_config_and_repr() -> None:
    net = Network([4, 3, 2], activation="tanh", output="sigmoid", init="glorot", dtype="float64")
    assert net.config() == {
        "sizes": [4, 3, 2],
        "activation": "tanh",
        "output": "sigmoid",
        "cost": "cross_entropy",
        "init": "glorot",
        "bias_init": "zeros",
        "dtype": "float64",
    }
    assert repr(net) == (
        "Network(4-3-2, activation='tanh', output='sigmoid', cost='cross_entropy', "
        "dtype='float64', backend='numpy', device='cpu')"
    )
    default = Network([2, 2])
    assert default.config() == {
        "sizes": [2, 2],
        "activation": "relu",
        "output": "softmax",
        "cost": "cross_entropy",
        "init": "he",
        "bias_init": "zeros",
        "dtype": "float32",
    }
    assert default.dtype == xp.float32
    clone = Network.from_config(net.config(), seed=5)
    assert clone.config() == net.config()
    assert Network.from_config({**net.config(), "bias_init": None}).bias_init == "zeros"
    np.testing.assert_array_equal(
        Network([3, 2], seed=4).get_weights()[0][0],
        Network.from_config(Network([3, 2]).config(), seed=4).get_weights()[0][0],
    )


# --- what the mutation run found unguarded ----------------------------------------------


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_step_on_read_only_arrays_takes_the_pure_update(name: str) -> None:
    params, grads = _problem(4)
    want = _reference_steps(name, HYPER[name], params, grads[:2], LRS[:2])
    opt = _make(name)
    current = [p.copy() for p in params]
    for a in current:
        a.flags.writeable = False
    for g, lr, expected in zip(grads[:2], LRS[:2], want, strict=True):
        opt.learning_rate = lr
        current = opt.step(xp, current, g)
        for got, ref in zip(current, expected, strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert opt.steps == 2 and len(opt.state) == len(params) * opt.slots


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_updates_refuse_gradients_of_another_length(name: str) -> None:
    params, grads = _problem(5)
    opt = _make(name)
    for update in (opt.update, opt.update_in_place):
        with pytest.raises(ValueError, match="zip"):
            update(xp, params, grads[0][:1], opt.init_state(xp, params), 1)


def test_from_config_defaults_and_backend() -> None:
    config = Network([3, 2], init="lecun").config()
    default = Network.from_config(config)
    np.testing.assert_array_equal(
        default.get_weights()[0][0], Network([3, 2], init="lecun", seed=0).get_weights()[0][0]
    )
    moved = Network.from_config(config, backend="array_api_strict", device="device1")
    assert (
        moved.backend.name == "array_api_strict"
        and str(moved.device) == "array_api_strict.Device('device1')"
    )


def test_load_parameters_casts_to_the_network_dtype() -> None:
    net = Network([3, 2], seed=0)  # float32
    other = Network([3, 2], dtype="float64", seed=1)
    net.load_parameters(other.copy_parameters())
    assert all(p.dtype == xp.float32 for p in net.parameters)
    np.testing.assert_allclose(net.weights[0], other.weights[0], rtol=1e-7)


def test_predict_proba_splits_above_4096_rows_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyarray_nn.nn.propagation as propagation

    net = Network([2, 3], seed=0)
    calls: list[int] = []
    real = propagation.feedforward

    def counting(network, X, output=True):  # type: ignore[no-untyped-def]
        calls.append(X.shape[0])
        return real(network, X, output)

    monkeypatch.setattr(propagation, "feedforward", counting)
    X = net.asarray(np.ones((4097, 2)))
    assert net.predict(X).shape == (4097,)
    assert calls == [4096, 1]
    calls.clear()
    assert net.predict_proba(X).shape == (4097, 3)
    assert calls == [4096, 1]
    calls.clear()
    net.predict_proba(X[:4096, :])
    assert calls == [4096]


def test_identity_saturation_mask_stays_on_the_device() -> None:
    strict = resolve_backend("array_api_strict", "device1")
    A = strict.xp.ones((2, 3), device=strict.device)
    mask = ACTIVATIONS["identity"].saturated(strict.xp, A)
    assert mask.device == strict.device and mask.shape == (2, 3)
