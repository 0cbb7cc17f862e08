"""Backend resolution: names, namespaces, devices, and a missing CuPy/GPU."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from anyarray_nn import backend as backend_mod
from anyarray_nn.backend import (
    BACKEND_NAMES,
    Backend,
    BackendUnavailableError,
    from_numpy,
    resolve_backend,
    resolve_dtype,
    to_numpy,
)


def test_names_resolve() -> None:
    assert resolve_backend("numpy").name == "numpy"
    strict = resolve_backend("array_api_strict", "device1")
    assert strict.name == "array_api_strict"
    assert str(strict.device) == str(resolve_backend("array_api_strict", "device1").device)
    with pytest.raises(ValueError, match="unknown backend 'dask'"):
        resolve_backend("dask")
    with pytest.raises(TypeError, match="backend must be"):
        resolve_backend(3)  # type: ignore[arg-type]


def test_explicit_namespace_and_device() -> None:
    import array_api_compat.numpy as cnp
    import array_api_strict

    assert resolve_backend(cnp).name == "numpy"
    b = resolve_backend(array_api_strict, array_api_strict.Device("device1"))
    assert b.device == array_api_strict.Device("device1")
    assert resolve_backend(b) is b


def test_round_trip_through_host(backend: Backend) -> None:
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    x = from_numpy(a, backend, "float32")
    assert x.dtype == backend.xp.float32
    np.testing.assert_array_equal(to_numpy(x), a.astype(np.float32))
    assert resolve_dtype(backend.xp, "float64") == backend.xp.float64
    with pytest.raises(ValueError, match="float32"):
        resolve_dtype(backend.xp, "int8")


def test_cupy_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(BackendUnavailableError, match=r"not installed.*cuda12"):
        resolve_backend("cupy")


def test_cupy_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeCuda:
        @staticmethod
        def is_available() -> bool:
            raise RuntimeError("cudaErrorInsufficientDriver")

    class FakeCupy:
        cuda = FakeCuda

    monkeypatch.setattr(backend_mod, "_import_cupy", lambda: FakeCupy)
    with pytest.raises(BackendUnavailableError, match="no usable CUDA GPU"):
        resolve_backend("cupy")


# --- torch and JAX by name, other libraries refused -----------------------------------


def test_torch_by_name_and_devices() -> None:
    torch = pytest.importorskip("torch")
    b = resolve_backend("torch")
    assert b.name == "torch" and b.device == torch.device("cpu")
    assert resolve_backend("torch", torch.device("cpu")).device == b.device
    assert resolve_backend(torch).name == "torch"  # the plain module is fine too
    with pytest.raises(ValueError, match="unknown device 'nonsense'"):
        resolve_backend("torch", "nonsense")
    if not torch.cuda.is_available():
        for device in ("cuda", "cuda:1", 0):
            with pytest.raises(BackendUnavailableError, match="no usable CUDA GPU"):
                resolve_backend("torch", device)


def test_jax_by_name_and_devices() -> None:
    jax = pytest.importorskip("jax")
    b = resolve_backend("jax")
    assert b.name == "jax" and b.device == jax.devices()[0]
    assert resolve_backend(jax.numpy).name == "jax"  # not "numpy", whatever its module name
    assert resolve_backend("jax", "cpu").device == jax.devices("cpu")[0]
    assert resolve_backend("jax", 0).device == jax.devices()[0]
    with pytest.raises(BackendUnavailableError, match="cannot use device 'tpu'"):
        resolve_backend("jax", "tpu")


def test_jax_float64_without_x64_says_how_to_enable_it(monkeypatch: pytest.MonkeyPatch) -> None:
    jax = pytest.importorskip("jax")
    monkeypatch.setattr(backend_mod, "_jax_x64", lambda: False)
    with pytest.raises(ValueError, match=r"jax_enable_x64.*JAX_ENABLE_X64=1"):
        resolve_dtype(jax.numpy, "float64")
    assert resolve_dtype(jax.numpy, "float32") == jax.numpy.float32
    from anyarray_nn import Network

    with pytest.raises(ValueError, match="64-bit mode"):
        Network([3, 2], dtype="float64", backend="jax")


@pytest.mark.parametrize("name", ["dask.array", "ndonnx", "sparse"])
def test_other_libraries_refused_at_construction(name: str) -> None:
    """Fakes carry the module names that array-api-compat recognises: no install needed."""
    from anyarray_nn import Network

    fake = types.ModuleType(name)
    with pytest.raises(ValueError, match=r"unsupported array library.*numpy, cupy, torch, jax"):
        resolve_backend(fake)
    with pytest.raises(ValueError, match="unsupported array library"):
        Network([3, 2], backend=fake)


def test_missing_optional_library_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendUnavailableError, match=r"anyarray-nn\[torch\]"):
        resolve_backend("torch")
    monkeypatch.setitem(sys.modules, "jax.numpy", None)
    with pytest.raises(BackendUnavailableError, match=r"anyarray-nn\[jax\]"):
        resolve_backend("jax")


def test_backend_names_table_and_cli_choices() -> None:
    assert BACKEND_NAMES == ("numpy", "cupy", "torch", "jax", "array_api_strict")


def test_torch_tensors_never_require_grad() -> None:
    """No autograd graph: the gradients are the essay's, computed by hand."""
    pytest.importorskip("torch")
    from anyarray_nn import Network, get_optimizer

    net = Network([6, 5, 3], backend="torch", seed=0)
    X = net.asarray(np.random.default_rng(0).random((8, 6)))
    y = from_numpy(np.arange(8) % 3, net.backend, "int64")
    opt = get_optimizer("adam", 0.01)
    grads = net.train_step(X, y, opt, weight_decay=1e-3)
    arrays = [*net.parameters, *opt.state, *grads.dW, *grads.db, *grads.deltas]
    arrays += [*grads.activations, grads.cost]
    assert not any(a.requires_grad or a.grad_fn is not None for a in arrays)


def test_torch_step_builds_no_graph_even_for_inputs_that_require_grad() -> None:
    """The training loop's step runs under ``torch.no_grad()``."""
    torch = pytest.importorskip("torch")
    from anyarray_nn import Network, get_optimizer
    from anyarray_nn.nn.steps import step_function

    net = Network([6, 5, 3], backend="torch", seed=0)
    X = torch.rand((8, 6), requires_grad=True)
    Y = net.check_targets(X, from_numpy(np.arange(8) % 3, net.backend, "int64"))
    grads = step_function(net, get_optimizer("momentum", 0.1))(X, Y, 1e-3)
    assert grads.cost.grad_fn is None and not grads.cost.requires_grad
    assert not any(p.requires_grad for p in net.parameters)
