"""Mini-batches of numeric features, used as given, on the network's device.

:class:`FeatureBatchIterator` is the training loop's path for data that are not ``uint8``
images: float (or integer) feature matrices of shape (n, d), such as standardised tabular
data.  The features are **not** rescaled (only ``uint8`` pixels are divided by 255, by
:class:`~anyarray_nn.data.batches.BatchIterator`).  They are moved to the device once (an
array already on the backend's device is used there, never copied through the host), and
each batch is a ``take`` of the epoch's permuted rows, the permutation drawn on the host from
a seeded generator like the image path's.

Targets are either integer class labels (one-hot rows of ``num_classes`` columns are built on
the device) or floating-point values used as given (regression): shape (n,) or (n, k).

Examples
--------
>>> import numpy as np
>>> from anyarray_nn.data.feature_batches import FeatureBatchIterator
>>> X = np.linspace(-1, 1, 20).reshape(10, 2); y = np.arange(10) % 3
>>> it = FeatureBatchIterator(X, y, batch_size=4, num_classes=3, seed=0)
>>> [tuple(Xb.shape) + tuple(Yb.shape) for Xb, Yb in it]
[(4, 2, 4, 3), (4, 2, 4, 3), (2, 2, 2, 3)]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

from ..backend import (
    Backend,
    device_scope,
    from_numpy,
    host_permutation,
    host_rng,
    resolve_backend,
    resolve_dtype,
    to_numpy,
)

__all__ = ["FeatureBatchIterator", "is_image_data", "to_backend"]

Array = Any


def to_backend(a: Any, backend: Backend, dtype: Any) -> Array:
    """``a`` on ``backend``'s device, in ``dtype`` (``None``: keep its dtype).

    An array already of ``backend``'s namespace is converted there (never through the
    host); host data and other libraries' arrays are copied with :func:`from_numpy`.
    """
    xp = backend.xp
    device_array = array_api_compat.is_array_api_obj(a) and not isinstance(a, np.ndarray)
    if device_array and array_api_compat.array_namespace(a) == xp:
        with device_scope(backend):
            a = xp.asarray(a, device=backend.device)
            return a if dtype is None else xp.astype(a, resolve_dtype(xp, dtype))
    return from_numpy(a, backend, dtype if dtype is None else _dtype_name(xp, dtype))


def _dtype_name(xp: Any, dtype: Any) -> str:
    return "float64" if resolve_dtype(xp, dtype) == xp.float64 else "float32"


def is_image_data(x: Any) -> bool:
    """Whether ``x`` is host ``uint8`` pixel data (the image path), not plain features."""
    return isinstance(x, np.ndarray) and x.dtype == np.uint8


class FeatureBatchIterator:
    """Shuffled mini-batches ``(X, Y)`` of a feature matrix, produced on a device.

    Parameters
    ----------
    features : array, shape (N, d) or (N, ...)
        Host (NumPy) or device array of real numbers; higher dimensions are flattened.
        Used as given: not rescaled.
    targets : array, shape (N,) or (N, k)
        Integer class labels in ``[0, num_classes)`` (one-hot encoded on the device), or
        floating-point regression targets used as given.
    batch_size : int
    backend : Backend or str, default "numpy"
    device : optional
    dtype : {"float32", "float64"}, default "float32"
    shuffle : bool, default True
    seed : int, numpy.random.Generator or None
    num_classes : int, optional
        Width of the one-hot rows for integer labels; default ``max(label) + 1``.

    Attributes
    ----------
    n_samples, batch_size : int
    backend : Backend
    rng : numpy.random.Generator
    resident : bool
        Always True: the features live on the device.
    one_hot : bool
        Whether the targets are class labels (``Y`` one-hot rows), not regression values.

    Raises
    ------
    TypeError
        Features that are not numbers (strings, objects, complex).
    ValueError
        Empty data, mismatched lengths, non-finite features, labels out of range.
    """

    def __init__(
        self,
        features: Any,
        targets: Any,
        *,
        batch_size: int,
        backend: Backend | str = "numpy",
        device: Any = None,
        dtype: Any = "float32",
        shuffle: bool = True,
        seed: int | np.random.Generator | None = None,
        num_classes: int | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.backend: Backend = resolve_backend(backend, device)
        self.dtype = resolve_dtype(self.backend.xp, dtype)
        self.shuffle = bool(shuffle)
        self.rng: np.random.Generator = host_rng(seed)
        self.resident = True
        self._x = self._features(features)
        self.n_samples: int = int(self._x.shape[0])
        #: True for class labels (one-hot rows), False for regression targets.
        self.one_hot: bool = _dtype_kind(targets) in "biu"
        self._y, self.num_classes = self._targets(targets, num_classes)

    def _on_device(self, a: Any) -> Array:
        return to_backend(a, self.backend, self.dtype)

    def _features(self, features: Any) -> Array:
        if not array_api_compat.is_array_api_obj(features):  # lists, pandas: host arrays
            features = np.asarray(features)
        kind = _dtype_kind(features)
        if kind not in "biuf":
            raise TypeError(
                f"features must be real numbers, got dtype {_dtype_of(features)}; encode "
                "categories as numbers first (e.g. sklearn.preprocessing.OneHotEncoder)"
            )
        shape = tuple(int(s) for s in features.shape) if hasattr(features, "shape") else None
        if shape is None or len(shape) < 2 or shape[0] < 1:
            raise ValueError(f"features must have shape (n, d) with n >= 1, got {shape}")
        X = self._on_device(features)
        xp = self.backend.xp
        X = xp.reshape(X, (shape[0], math.prod(shape[1:])))
        if not bool(xp.all(xp.isfinite(X))):  # one read of a 0-d flag, once per data set
            raise ValueError("features contain NaN or infinite values; impute or drop them")
        return X

    def _targets(self, targets: Any, num_classes: int | None) -> tuple[Array, int]:
        n, xp = self.n_samples, self.backend.xp
        kind = _dtype_kind(targets)
        if kind in "biu":  # class labels: checked on the host (they are small)
            labels = to_numpy(targets).astype(np.int64).reshape(-1)
            if labels.shape[0] != n:
                raise ValueError(f"{labels.shape[0]} labels for {n} samples")
            k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
            if labels.min() < 0 or labels.max() >= k:
                raise ValueError(
                    f"labels must lie in [0, {k}), found values in "
                    f"[{int(labels.min())}, {int(labels.max())}]"
                )
            with device_scope(self.backend):
                eye = xp.eye(k, dtype=self.dtype, device=self.backend.device)
            return xp.take(eye, from_numpy(labels, self.backend), axis=0), k
        if kind != "f":
            raise TypeError(f"targets must be integer labels or floats, got {_dtype_of(targets)}")
        Y = self._on_device(targets)
        Y = xp.reshape(Y, (n, -1)) if Y.ndim < 2 else Y
        if int(Y.shape[0]) != n:
            raise ValueError(f"{int(Y.shape[0])} targets for {n} samples")
        return Y, int(Y.shape[1])

    def __len__(self) -> int:
        """Batches per epoch."""
        return math.ceil(self.n_samples / self.batch_size)

    def __repr__(self) -> str:
        return (
            f"FeatureBatchIterator(n_samples={self.n_samples}, batch_size={self.batch_size}, "
            f"backend={self.backend!r}, shuffle={self.shuffle})"
        )

    def __iter__(self) -> Iterator[tuple[Array, Array]]:
        """One epoch of ``(X, Y)`` batches; the permutation is drawn when ``iter()`` is called."""
        perm = host_permutation(self.rng, self.n_samples) if self.shuffle else None
        return self._epoch(perm)

    def _epoch(self, perm: np.ndarray | None) -> Iterator[tuple[Array, Array]]:
        xp, b = self.backend.xp, self.batch_size
        perm_dev = from_numpy(perm, self.backend) if perm is not None else None
        for start in range(0, self.n_samples, b):
            stop = min(start + b, self.n_samples)
            with device_scope(self.backend):
                if perm_dev is None:
                    X, Y = self._x[start:stop, :], self._y[start:stop, :]
                else:
                    rows = perm_dev[start:stop]
                    X, Y = xp.take(self._x, rows, axis=0), xp.take(self._y, rows, axis=0)
            yield X, Y


def _dtype_of(a: Any) -> Any:
    return getattr(a, "dtype", None) if hasattr(a, "dtype") else np.asarray(a).dtype


def _dtype_kind(a: Any) -> str:
    """NumPy's kind letter of ``a``'s dtype ("f", "i", "u", "b", ...), for any backend."""
    if isinstance(a, np.ndarray) or not array_api_compat.is_array_api_obj(a):
        return str(np.asarray(a).dtype.kind)
    xp = array_api_compat.array_namespace(a)
    if xp.isdtype(a.dtype, "bool"):
        return "b"
    if xp.isdtype(a.dtype, "signed integer"):
        return "i"
    if xp.isdtype(a.dtype, "unsigned integer"):
        return "u"
    return "f" if xp.isdtype(a.dtype, "real floating") else "c"
