"""The optimisers' update: a pure function, an in-place fast path equal to it bit for bit,
and the state that checkpoints save and restore."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

from anyarray_nn import SGD, Adam, Momentum, Optimizer
from anyarray_nn.backend import Backend, from_numpy, to_numpy

SHAPES = [(4, 3), (4,), (2, 4), (2,)]


def _make(name: str) -> Optimizer:
    return {"sgd": SGD(0.3), "momentum": Momentum(0.2, 0.8), "adam": Adam(0.05)}[name]


def _arrays(backend: Backend, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [from_numpy(rng.standard_normal(s), backend, "float64") for s in SHAPES]


def _host(arrays: list) -> list[np.ndarray]:
    return [to_numpy(a).copy() for a in arrays]


def _writeable_copies(arrays: list) -> list:
    """Fresh arrays computed from ``arrays`` (writeable even on the read-only backend)."""
    return [a + 0.0 for a in arrays]


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_update_is_pure(backend: Backend, name: str) -> None:
    opt = _make(name)
    xp = backend.xp
    params, grads = _arrays(backend, 0), _arrays(backend, 1)
    state = opt.init_state(xp, params)
    before = _host(params) + _host(grads) + _host(state)
    new_params, new_state = opt.update(xp, params, grads, state, 1)
    for a, b in zip(_host(params) + _host(grads) + _host(state), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(new_params) == len(params) and len(new_state) == len(state)
    for p, q in zip(new_params, params, strict=True):
        assert p is not q
        assert tuple(p.shape) == tuple(q.shape) and p.dtype == q.dtype
        assert array_api_compat.device(p) == backend.device
    assert opt.steps == 0 and opt.state == []  # update() keeps nothing


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_in_place_equals_pure_bit_for_bit(backend: Backend, name: str) -> None:
    pure, fast = _make(name), _make(name)
    xp = backend.xp
    params = _arrays(backend, 2)
    p_pure, s_pure = list(params), pure.init_state(xp, params)
    p_fast = _writeable_copies(params)
    s_fast = _writeable_copies(fast.init_state(xp, params))
    if not all(array_api_compat.is_writeable_array(a) for a in p_fast + s_fast):
        pytest.skip(f"{backend.name} arrays cannot be written: only the pure update applies")
    for t in range(1, 5):
        grads = _arrays(backend, 10 + t)
        p_pure, s_pure = pure.update(xp, p_pure, grads, s_pure, t)
        fast.update_in_place(xp, p_fast, grads, s_fast, t)
    for a, b in zip(_host(p_pure) + _host(s_pure), _host(p_fast) + _host(s_fast), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_step_writes_in_place_only_where_writeable(backend: Backend, name: str) -> None:
    opt = _make(name)
    xp = backend.xp
    params = _arrays(backend, 3)
    before = _host(params)
    writeable = all(array_api_compat.is_writeable_array(p) for p in params)
    new = opt.step(xp, params, _arrays(backend, 4))
    assert opt.steps == 1
    assert all((p is q) == writeable for p, q in zip(new, params, strict=True))
    if not writeable:  # the read-only backend: the caller's arrays are left alone
        for a, b in zip(_host(params), before, strict=True):
            np.testing.assert_array_equal(a, b)
    # a second step from the returned arrays (writeable now on every backend) goes on
    new = opt.step(xp, new, _arrays(backend, 5))
    assert opt.steps == 2


def _numpy_adam(params, grads_seq, lr, b1, b2, eps):
    """Adam as Kingma & Ba write it (bias-corrected moments), in NumPy."""
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    params = [p.copy() for p in params]
    for t, grads in enumerate(grads_seq, start=1):
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps / np.sqrt(1 - b2**t))
    return params


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_steps_match_numpy_formulas(backend: Backend, name: str) -> None:
    opt = _make(name)
    params = _arrays(backend, 6)
    host = _host(params)
    grads_seq = [_arrays(backend, 20 + t) for t in range(3)]
    for grads in grads_seq:
        params = opt.step(backend.xp, params, grads)
    g_host = [_host(g) for g in grads_seq]
    if name == "sgd":
        want = [p - 0.3 * sum(g[i] for g in g_host) for i, p in enumerate(host)]
    elif name == "momentum":
        want, vel = [p.copy() for p in host], [np.zeros_like(p) for p in host]
        for grads in g_host:
            for i, g in enumerate(grads):
                vel[i] = 0.8 * vel[i] - 0.2 * g
                want[i] = want[i] + vel[i]
    else:
        # the step size folds both corrections in, so epsilon acts as eps / sqrt(1 - b2^t)
        want = _numpy_adam(host, g_host, 0.05, 0.9, 0.999, 1e-8)
    for a, b in zip(_host(params), want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_state_round_trip_resumes_exactly(backend: Backend, name: str) -> None:
    """What checkpoints use: state_arrays(), steps, load_state(), learning_rate, config()."""
    xp = backend.xp
    straight = _make(name)
    params = _arrays(backend, 7)
    p1 = _writeable_copies(params)  # steps may write in place: one copy each
    for t in range(4):
        p1 = straight.step(xp, p1, _arrays(backend, 30 + t))
    first = _make(name)
    p2 = _writeable_copies(params)
    for t in range(2):
        p2 = first.step(xp, p2, _arrays(backend, 30 + t))
    saved = [from_numpy(a, backend) for a in _host(first.state_arrays())]
    assert len(saved) == first.slots * len(params) and first.steps == 2
    resumed = _make(name)
    resumed.load_state(saved, first.steps)
    assert resumed.config() == first.config() and resumed.learning_rate == first.learning_rate
    for t in range(2, 4):
        p2 = resumed.step(xp, p2, _arrays(backend, 30 + t))
    assert resumed.steps == straight.steps == 4
    for a, b in zip(
        _host(p1) + _host(straight.state_arrays()),
        _host(p2) + _host(resumed.state_arrays()),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_learning_rate_can_change_between_steps(numpy_backend: Backend) -> None:
    opt = SGD(0.5)
    xp = numpy_backend.xp
    (p,) = opt.step(xp, [xp.asarray([1.0])], [xp.asarray([1.0])])
    opt.learning_rate = 0.25
    (p,) = opt.step(xp, [p], [xp.asarray([1.0])])
    assert float(p[0]) == pytest.approx(0.25)
    assert opt.config() == {"name": "sgd", "learning_rate": 0.25}
