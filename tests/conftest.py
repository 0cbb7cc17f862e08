"""Shared fixtures: the backend matrix every math test runs over.

numpy; array_api_strict on its default device; array_api_strict on ``device1`` (catches a
forgotten ``device=`` or a stray NumPy call); cupy only when a GPU is really usable; NumPy
whose created arrays are read-only (``tests/readonly_numpy.py``: catches a write to an input
and an in-place update of an array that cannot take one).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import readonly_numpy

from anyarray_nn.backend import Backend, resolve_backend


def _cupy_usable() -> bool:
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:
        return False


CUPY_USABLE = _cupy_usable()

BACKEND_PARAMS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("array_api_strict", None), id="strict-cpu"),
    pytest.param(("array_api_strict", "device1"), id="strict-device1"),
    pytest.param(
        ("cupy", None),
        id="cupy",
        marks=pytest.mark.skipif(not CUPY_USABLE, reason="no usable CuPy GPU"),
    ),
    pytest.param(("numpy-readonly", None), id="numpy-readonly"),
]


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """A resolved :class:`~anyarray_nn.backend.Backend` of the test matrix."""
    name, device = request.param
    if name == "numpy-readonly":
        return readonly_numpy.backend()
    return resolve_backend(name, device)


@pytest.fixture
def numpy_backend() -> Backend:
    return resolve_backend("numpy")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder from ``ANYARRAY_NN_DATA``; skips the test when unset."""
    value = os.environ.get("ANYARRAY_NN_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("real MNIST not available: set ANYARRAY_NN_DATA to a folder with the IDX files")
    return Path(value)
