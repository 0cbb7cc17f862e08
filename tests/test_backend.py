"""Backend resolution: names, namespaces, devices, and a missing CuPy/GPU."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from anyarray_nn import backend as backend_mod
from anyarray_nn.backend import (
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
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        resolve_backend("torch")
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
