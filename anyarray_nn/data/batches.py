"""Mini-batches on the network's device.

:class:`BatchIterator` moves a uint8 data set to the device **once** and, per batch,
gathers the rows, converts them to the compute dtype and scales them to ``[0, 1]`` there
(the 4-8x larger floating-point copy is never built on the host or sent over the bus).
If the data set does not fit in a memory budget it is *streamed* from host memory in
chunks instead; the batches are bit-identical either way.

Randomness (the epoch's permutation and, with ``max_shift``, the per-sample shifts) is
drawn from a seeded host :class:`numpy.random.Generator` and copied to the device once per
epoch, so the same seed gives the same batches on every backend.

Examples
--------
>>> import numpy as np
>>> from anyarray_nn.data.batches import BatchIterator
>>> images = np.zeros((10, 28, 28), np.uint8); labels = np.arange(10) % 10
>>> it = BatchIterator(images, labels, batch_size=4, seed=0)
>>> len(it), [tuple(X.shape) for X, Y in it]
(3, [(4, 784), (4, 784), (2, 784)])
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np

from ..backend import (
    Backend,
    device_scope,
    from_numpy,
    host_permutation,
    host_rng,
    index_dtype,
    is_cupy,
    resolve_backend,
    resolve_dtype,
)
from .augment import ShiftedRows, shift_images
from .cupy_stream import CupyStreamer
from .distortions import BoundDistortions, Distortions

__all__ = ["BatchIterator", "image_shape"]

Array = Any


class BatchIterator:
    """Shuffled mini-batches ``(X, Y)`` of an image data set, produced on a device.

    Parameters
    ----------
    images : numpy.ndarray of uint8, shape (N, H, W) or (N, H*W)
        Host images with values 0..255.
    labels : numpy.ndarray of int, shape (N,)
        Host class labels in ``[0, num_classes)``.
    batch_size : int
        Samples per batch (the last batch of an epoch may be smaller, see ``drop_last``).
    backend : Backend or str, default "numpy"
        Where the batches live (see :func:`anyarray_nn.backend.resolve_backend`).
    device : optional
        Device for ``backend`` when it is given by name.
    dtype : {"float32", "float64"}, default "float32"
        Compute dtype of ``X`` (and of one-hot ``Y``).
    shuffle : bool, default True
        Draw a new permutation of the samples for every epoch.
    seed : int, numpy.random.Generator or None
        Seed of (or the) host generator; stored as :attr:`rng`.
    one_hot : bool, default True
        ``Y`` as one-hot rows of ``dtype``; otherwise int64 labels.
    num_classes : int, default 10
        Width of the one-hot rows.
    drop_last : bool, default False
        Skip the final partial batch.
    memory_budget : int or None, default None
        Device bytes the uint8 images may occupy.  ``None``: no limit.  When the data set
        is larger, it is streamed in chunks of ``chunk_rows`` rows (a multiple of
        ``batch_size`` such that two chunks fit in the budget, but at least one batch).
    max_shift : int, default 0
        With ``k > 0`` every sample of every epoch is shifted by its own random
        ``(dy, dx)``, ``-k <= dy, dx <= k`` (vacated pixels 0), on the device.
    image_shape : tuple of int, default (28, 28)
        ``(H, W)`` of one image.
    distortions : Distortions or None, default None
        Random elastic / affine distortions of every sample of every epoch, applied on the
        device after the shifts (see :mod:`anyarray_nn.data.distortions`).

    Attributes
    ----------
    n_samples : int
        ``N``.
    batch_size : int
    backend : Backend
    dtype : dtype of ``backend.xp``
    rng : numpy.random.Generator
        The host generator; save and restore ``rng.bit_generator.state`` to reproduce
        an epoch.
    resident : bool
        True when the whole data set lives on the device, False when streamed.
    chunk_rows : int
        Rows copied to the device at a time (``N`` when resident).

    Raises
    ------
    TypeError
        Images that are not uint8, labels that are not integers.
    ValueError
        Mismatched lengths, wrong image shape, labels out of range, ``batch_size < 1``,
        a negative ``max_shift`` or ``memory_budget``.

    Notes
    -----
    Per batch, the standard path is one ``take`` (skipped when not shuffling), one
    ``astype`` and one in-place multiplication by ``1/255`` (the ``astype`` result is a
    fresh array, never a view); one-hot labels are a ``take`` from a ``num_classes``
    identity matrix, equal to ``astype(reshape(y, (-1, 1)) == arange(num_classes), dtype)``.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        batch_size: int,
        backend: Backend | str = "numpy",
        device: Any = None,
        dtype: Any = "float32",
        shuffle: bool = True,
        seed: int | np.random.Generator | None = None,
        one_hot: bool = True,
        num_classes: int = 10,
        drop_last: bool = False,
        memory_budget: int | None = None,
        max_shift: int = 0,
        image_shape: tuple[int, int] = (28, 28),
        distortions: Distortions | None = None,
    ) -> None:
        h, w = (_as_int(s, "image_shape entries", minimum=1) for s in image_shape)
        self.image_shape: tuple[int, int] = (h, w)
        self.batch_size: int = _as_int(batch_size, "batch_size", minimum=1)
        self.num_classes: int = _as_int(num_classes, "num_classes", minimum=1)
        self.max_shift: int = _as_int(max_shift, "max_shift", minimum=0)
        if memory_budget is not None:
            memory_budget = _as_int(memory_budget, "memory_budget", minimum=0)
        self.memory_budget: int | None = memory_budget

        host_x, host_y = self._validate(images, labels)
        self.n_samples: int = int(host_x.shape[0])
        self.shuffle = bool(shuffle)
        self.one_hot = bool(one_hot)
        self.drop_last = bool(drop_last)
        self.rng: np.random.Generator = host_rng(seed)

        self.backend: Backend = resolve_backend(backend, device)
        xp, dev = self.backend.xp, self.backend.device
        self.dtype = resolve_dtype(xp, dtype)
        self._scale = 1.0 / 255.0  # a Python float: keeps float32 float32
        self._host_x = host_x  # (N, H*W) uint8, C-contiguous
        self._host_y = host_y  # (N,) int64
        self._eye: Array | None = None
        if self.one_hot:
            with device_scope(self.backend):  # CuPy creates on the current GPU only
                self._eye = xp.eye(self.num_classes, dtype=self.dtype, device=dev)

        nbytes = int(host_x.nbytes)
        self.resident: bool = memory_budget is None or nbytes <= memory_budget
        if self.resident:
            self.chunk_rows: int = max(self.n_samples, 1)
            self._x: Array | None = from_numpy(host_x, self.backend)  # the one copy
        else:
            row_bytes = h * w
            rows = (int(memory_budget) // (2 * row_bytes)) // self.batch_size * self.batch_size
            self.chunk_rows = max(rows, self.batch_size)
            self._x = None
        if not self.shuffle:
            self._y_dev = from_numpy(host_y, self.backend)  # labels never change order
        self._cupy_stream: CupyStreamer | None = None
        with device_scope(self.backend):
            self._prepare_augmentation(distortions)

    def _prepare_augmentation(self, distortions: Distortions | None) -> None:
        """Shifts of resident data as row gathers (:class:`ShiftedRows`, when it fits the
        memory budget) and the distortions' field bank, each moved to the device once."""
        xp, dev = self.backend.xp, self.backend.device
        self._shifted: ShiftedRows | None = None  # shuffle + shift as one row gather
        budget = self.memory_budget
        shifted_bytes = ShiftedRows.nbytes(self.n_samples, self.image_shape, self.max_shift)
        if self.resident and self.max_shift and (budget is None or shifted_bytes <= budget):
            self._shifted = ShiftedRows(xp, self._x, self.image_shape, self.max_shift)
            self._all = xp.arange(self.n_samples, dtype=index_dtype(xp, dev), device=dev)
        self.distortions: BoundDistortions | None = None
        if distortions is not None:
            self.distortions = distortions.bind(xp, dev, self.dtype, self.image_shape)

    # ------------------------------------------------------------------ validation
    def _validate(self, images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.image_shape
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.dtype != np.uint8:
            raise TypeError(
                f"images must be uint8 (0..255), got {images.dtype}. Convert integer pixel "
                "values with `images.astype(numpy.uint8)`, or floats in [0, 1] with "
                "`numpy.rint(images * 255).astype(numpy.uint8)`."
            )
        good_shape = (images.ndim == 3 and images.shape[1:] == (h, w)) or (
            images.ndim == 2 and images.shape[1] == h * w
        )
        if not good_shape:
            raise ValueError(
                f"images must have shape (N, {h}, {w}) or (N, {h * w}), got {images.shape}"
            )
        n = int(images.shape[0])
        if n < 1:
            raise ValueError("images is empty: need at least one sample")
        if labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(
                f"labels must have shape ({n},) to match {n} images, got {labels.shape}"
            )
        if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
            raise TypeError(
                f"labels must be integers, got {labels.dtype}; use `labels.astype(numpy.int64)`"
            )
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= self.num_classes:
            raise ValueError(
                f"labels must lie in [0, {self.num_classes}), found values in [{lo}, {hi}]"
            )
        host_x = np.ascontiguousarray(images.reshape(n, h * w))
        host_y = labels.astype(np.int64, copy=False)
        return host_x, host_y

    # ------------------------------------------------------------------ protocol
    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.n_samples // self.batch_size
        return math.ceil(self.n_samples / self.batch_size)

    def __repr__(self) -> str:
        mode = "resident" if self.resident else f"streamed, chunk_rows={self.chunk_rows}"
        return (
            f"BatchIterator(n_samples={self.n_samples}, batch_size={self.batch_size}, "
            f"backend={self.backend!r}, shuffle={self.shuffle}, max_shift={self.max_shift}, "
            f"{mode})"
        )

    def __iter__(self) -> Iterator[tuple[Array, Array]]:
        """One epoch of batches.

        The epoch's randomness (permutation, then shifts) is drawn from :attr:`rng` when
        ``iter()`` is called, not lazily, so restoring ``rng.bit_generator.state`` before
        ``iter()`` reproduces the epoch.

        Yields
        ------
        X : array, shape (b, H*W)
            ``dtype``, values in ``[0, 1]`` (``pixel / 255``), on ``backend.device``.
        Y : array, shape (b, num_classes) of ``dtype`` or shape (b,) of int64
            One-hot rows, or integer labels when ``one_hot=False`` (then possibly a view
            of an internal array: treat it as read-only).
        """
        n = self.n_samples
        perm = host_permutation(self.rng, n) if self.shuffle else None
        shifts = None
        if self.max_shift > 0:
            k = self.max_shift
            shifts = self.rng.integers(-k, k + 1, size=(2, n), dtype=np.int64)
        warps = None
        if self.distortions is not None:
            warps = self.distortions.spec.draw(self.rng, n)
        return self._epoch(perm, shifts, warps)

    # ------------------------------------------------------------------ epoch
    def _epoch(
        self,
        perm: np.ndarray | None,
        shifts: np.ndarray | None,
        warps: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Iterator[tuple[Array, Array]]:
        backend = self.backend
        xp = backend.xp
        b = self.batch_size
        n_used = len(self) * b if self.drop_last else self.n_samples
        # Per-epoch transfers, each once: labels in epoch order, permutation, shifts.
        if perm is None:
            y_dev = self._y_dev
            perm_dev = None
        else:
            y_dev = from_numpy(self._host_y[perm], backend)
            perm_dev = from_numpy(perm, backend) if self.resident else None
        shifts_dev = from_numpy(shifts, backend) if shifts is not None else None
        if warps is not None and self.distortions is not None:
            with device_scope(backend):
                warps_dev = self.distortions.to_device(warps)

        chunks: Generator[tuple[int, int, Array | None], None, None]
        if self.resident:
            chunks = _one_chunk(n_used)
        elif is_cupy(xp):
            if self._cupy_stream is None:
                self._cupy_stream = CupyStreamer(self._host_x, self.chunk_rows, backend)
            chunks = self._cupy_stream.chunks(perm, n_used)
        else:
            chunks = self._host_chunks(perm, n_used)

        try:
            for c0, c1, chunk in chunks:
                for start in range(c0, c1, b):
                    stop = min(start + b, c1)
                    with device_scope(backend):  # entered per batch, never across a yield
                        X, Y = self._batch(chunk, c0, start, stop, perm_dev, shifts_dev, y_dev)
                        if warps is not None and self.distortions is not None:
                            X = self.distortions.apply(
                                X, warps_dev[0][start:stop, :], warps_dev[1][start:stop, :]
                            )
                    yield X, Y
        finally:  # an abandoned epoch: the streamer waits for its in-flight copy now
            chunks.close()

    def _batch(
        self,
        chunk: Array | None,
        c0: int,
        start: int,
        stop: int,
        perm_dev: Array | None,
        shifts_dev: Array | None,
        y_dev: Array,
    ) -> tuple[Array, Array]:
        """Samples ``start:stop`` of the epoch: scaled ``X`` and (one-hot) ``Y``."""
        xp = self.backend.xp
        if self._shifted is not None and shifts_dev is not None:  # resident and shifted
            rows = perm_dev[start:stop] if perm_dev is not None else self._all[start:stop]
            xb = self._shifted.gather(rows, shifts_dev[0, start:stop], shifts_dev[1, start:stop])
            shifts_dev = None  # done
        elif chunk is not None:  # streamed: rows start..stop of the epoch, in order
            xb = chunk[start - c0 : stop - c0, :]
        elif perm_dev is not None:
            xb = xp.take(self._x, perm_dev[start:stop], axis=0)
        else:
            xb = self._x[start:stop, :]
        if shifts_dev is not None:
            xb = shift_images(
                xp,
                xb,
                shifts_dev[0, start:stop],
                shifts_dev[1, start:stop],
                self.image_shape,
                max_shift=self.max_shift,
            )
        X = xp.astype(xb, self.dtype)  # a fresh array: safe to scale in place
        X *= self._scale
        yb = y_dev[start:stop]
        Y = xp.take(self._eye, yb, axis=0) if self._eye is not None else yb
        return X, Y

    def _host_chunks(
        self, perm: np.ndarray | None, n_used: int
    ) -> Generator[tuple[int, int, Array], None, None]:
        """Standard streaming path: gather a chunk's rows on the host, copy, batch from it."""
        for c0 in range(0, n_used, self.chunk_rows):
            c1 = min(c0 + self.chunk_rows, n_used)
            if perm is None:
                host = self._host_x[c0:c1]
            else:
                host = np.take(self._host_x, perm[c0:c1], axis=0)
            yield c0, c1, from_numpy(host, self.backend)


def _one_chunk(n_used: int) -> Generator[tuple[int, int, None], None, None]:
    """The resident data set's single "chunk": rows are gathered from the device copy."""
    yield 0, n_used, None


def _as_int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def image_shape(images: Any, n_inputs: int) -> tuple[int, int]:
    """(height, width) of host ``images``: their own for (N, H, W), else square when
    ``n_inputs`` is a square number, else one row."""
    if len(images.shape) == 3:
        return (int(images.shape[1]), int(images.shape[2]))
    side = math.isqrt(n_inputs)
    return (side, side) if side * side == n_inputs else (1, n_inputs)
