"""The JAX fast path (``jax.jit`` step) against the standard path it sits beside."""

from __future__ import annotations

import numpy as np
import pytest

from anyarray_nn import Network
from anyarray_nn.backend import from_numpy, to_numpy
from anyarray_nn.nn.optimizers import SGD, Adam, Momentum
from anyarray_nn.nn.steps import step_function

jax = pytest.importorskip("jax")


def _train(compiled: bool, optimizer: str, dtype: str, steps: int = 6) -> tuple[list, object]:
    rng = np.random.default_rng(3)
    X = rng.random((48, 12))
    labels = rng.integers(0, 4, 48)
    net = Network([12, 9, 7, 4], activation="tanh", dtype=dtype, backend="jax", seed=5)
    opt = {"sgd": SGD(0.3), "momentum": Momentum(0.1, 0.9), "adam": Adam(0.01)}[optimizer]
    step = step_function(net, opt, compiled=compiled)
    Xd = net.asarray(X)
    Y = net.check_targets(Xd, from_numpy(labels, net.backend, "int64"))
    costs = []
    for i in range(steps):
        rows = slice(8 * i, 8 * i + 8)
        opt.learning_rate = 0.3 / (1 + i) if optimizer == "sgd" else opt.learning_rate
        grads = step(Xd[rows, :], Y[rows, :], 1e-3)
        costs.append(float(grads.cost))
    W, b = net.get_weights()
    return [*W, *b, *(to_numpy(s) for s in opt.state), np.array(costs, dtype=dtype)], (
        net,
        opt,
        grads,
    )


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize(("dtype", "atol"), [("float32", 2e-6), ("float64", 1e-12)])
def test_compiled_step_equals_standard_path(optimizer: str, dtype: str, atol: float) -> None:
    got, (net, opt, grads) = _train(True, optimizer, dtype)
    want, _ = _train(False, optimizer, dtype)
    assert opt.steps == 6
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, w, rtol=0, atol=atol)
    # The gradients it returns are those of the standard path's contract, on the device.
    assert [tuple(d.shape) for d in grads.dW] == [(9, 12), (7, 9), (4, 7)]
    assert len(grads.activations) == 4 and len(grads.deltas) == 3
    assert all(p.dtype == net.dtype for p in net.parameters)


def test_fast_path_is_chosen_only_for_jax() -> None:
    net = Network([3, 2], backend="jax", seed=0)
    assert step_function(net, SGD(0.1)).__module__.endswith("jax_step")
    assert step_function(net, SGD(0.1), compiled=False).__module__.endswith("steps")
    assert step_function(Network([3, 2], seed=0), SGD(0.1)).__module__.endswith("steps")

    class Custom(SGD):
        name = "sgd"

    # A user's subclass may change the update: it runs on the standard path.
    assert step_function(net, Custom(0.1)).__module__.endswith("steps")


def test_float32_stays_float32_with_x64_on() -> None:
    """The session runs with jax_enable_x64 (conftest): Python floats must not promote."""
    assert jax.config.jax_enable_x64
    _, (net, opt, grads) = _train(True, "adam", "float32", steps=2)
    arrays = [*net.parameters, *opt.state, *grads.dW, *grads.db, *grads.activations, grads.cost]
    assert all(a.dtype == jax.numpy.float32 for a in arrays)


def test_compiled_function_on_every_backend(backend) -> None:  # type: ignore[no-untyped-def]
    """JAX compiles a pure function of arrays and lists of arrays; elsewhere it is itself."""
    import array_api_compat

    from anyarray_nn.backend import compiled_function

    xp = backend.xp

    def pure(total, parts):  # type: ignore[no-untyped-def]
        return total + xp.sum(parts[0]), [p * 2.0 for p in parts]

    fn = compiled_function(xp, pure)
    assert (fn is pure) != bool(array_api_compat.is_jax_namespace(xp))
    parts = [from_numpy(np.arange(3.0), backend, "float32") for _ in range(2)]
    total, doubled = fn(from_numpy(np.float32(1.0), backend), parts)
    assert float(to_numpy(total)) == 4.0
    np.testing.assert_array_equal(to_numpy(doubled[1]), [0.0, 2.0, 4.0])
