"""A test-only array namespace: NumPy whose created arrays are read-only.

Everything is ``array_api_compat.numpy`` except the creation functions (``asarray``,
``zeros``, ``eye``, ...), whose results have ``flags.writeable = False``. A network on this
namespace therefore starts with read-only parameters, and every input a test makes with
``from_numpy(..., backend)`` is read-only: a write to an input, or an in-place optimiser step
on an array that cannot take it, raises ``ValueError: assignment destination is read-only``
instead of passing silently (array-api-extra's fixture does the same).

The results of arithmetic (``A @ W.T``, ``xp.exp(Z)``) are ordinary writeable NumPy arrays,
which is what the library may write to: it made them.

``resolve_backend(module)`` cannot be used here: it asks a probe array for its namespace,
and NumPy arrays report ``array_api_compat.numpy``, so the wrapper would be lost.
:func:`backend` builds the :class:`~anyarray_nn.backend.Backend` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_compat.numpy as _xp
import numpy as np

from anyarray_nn.backend import Backend

__all__ = ["backend"]

#: The creation functions of the standard, wrapped to return read-only arrays.
_CREATION = (
    "arange",
    "asarray",
    "empty",
    "empty_like",
    "eye",
    "from_dlpack",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "zeros",
    "zeros_like",
)


def _readonly(x: Any) -> Any:
    """A read-only view of ``x`` (a view, so that the caller's own array keeps its flags)."""
    if isinstance(x, np.ndarray):
        x = x.view()
        x.flags.writeable = False
    return x


def _wrap(name: str) -> Callable[..., Any]:
    function = getattr(_xp, name)

    def creation(*args: Any, **kwargs: Any) -> Any:
        return _readonly(function(*args, **kwargs))

    creation.__name__ = name
    creation.__doc__ = f"``array_api_compat.numpy.{name}``, returning a read-only array."
    return creation


_WRAPPED = {name: _wrap(name) for name in _CREATION}


def __getattr__(name: str) -> Any:
    if name in _WRAPPED:
        return _WRAPPED[name]
    return getattr(_xp, name)


def backend() -> Backend:
    """The read-only NumPy namespace on the CPU, as a :class:`Backend` of the test matrix."""
    import sys

    return Backend(xp=sys.modules[__name__], device="cpu", name="numpy-readonly")
