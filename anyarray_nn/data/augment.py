"""Data augmentation by small translations.

Two forms of the same idea (a digit moved by a pixel or two is still the same digit):

* :func:`expand_with_shifts` -- the paper's *static* expansion on the host (NumPy): every
  training image plus four copies moved by one pixel up, down, left and right, five times
  the data.
* :func:`shift_images` -- *on-the-fly* shifts of a batch on the device, written with
  Array API standard operations only, so it runs unchanged on NumPy, CuPy and
  ``array_api_strict`` (any device).  :class:`~anyarray_nn.data.BatchIterator` uses it
  with ``max_shift=k`` for streamed data, so that the expanded set never has to be
  materialised.
* :class:`ShiftedRows` -- the same shifts for a data set resident on the device, as **one
  row gather** per batch that also does the shuffling.

Why :class:`ShiftedRows` (speed): :func:`shift_images` gathers every *pixel*
(``b * H * W`` indices, computed per batch, plus padding), and an element-wise gather is
slow: about 100 us per batch of 128 on a CPU, as much as half a training step of the
784-64-10 network, against 2 us for gathering whole rows.  Rows are cheap to gather, so
:class:`ShiftedRows` stores every image row, zero-padded, in its ``2k + 1`` horizontal
shifts once (``(2k+1)(H+2k)/H`` times the data: 3.2x for ``k = 1``); a shifted image is then
``H`` rows picked by ``b * H`` indices (vertical shift: which rows; horizontal shift: which
copy), about 4x faster than :func:`shift_images` and 13x fewer indices.

Conventions (both functions): a shift by ``(dy, dx)`` moves the picture ``dy`` pixels
*down* and ``dx`` pixels *right* (negative values: up / left), i.e.
``out[r, c] = in[r - dy, c - dx]``; pixels that would come from outside the image are 0.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from ..backend import index_dtype

__all__ = ["EXPANSION_SHIFTS", "ShiftedRows", "expand_with_shifts", "shift_images"]

Array = Any

#: The ``(dy, dx)`` of the blocks produced by :func:`expand_with_shifts`, in order:
#: original, one pixel up, down, left, right.
EXPANSION_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def _shift_host(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift a host batch ``(N, H, W)`` by the same ``(dy, dx)``; vacated pixels are 0."""
    _, h, w = images.shape
    out = np.zeros_like(images)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    dst_r = slice(max(dy, 0), h + min(dy, 0))
    src_r = slice(max(-dy, 0), h + min(-dy, 0))
    dst_c = slice(max(dx, 0), w + min(dx, 0))
    src_c = slice(max(-dx, 0), w + min(-dx, 0))
    out[:, dst_r, dst_c] = images[:, src_r, src_c]
    return out


def expand_with_shifts(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    image_shape: tuple[int, int] = (28, 28),
) -> tuple[np.ndarray, np.ndarray]:
    """Expand a training set five-fold with one-pixel shifts (on the host, NumPy).

    Parameters
    ----------
    images : numpy.ndarray, shape (N, H, W) or (N, H*W)
        Host images (any dtype; MNIST is uint8).
    labels : numpy.ndarray, shape (N,)
        Host labels.
    image_shape : tuple of int, default (28, 28)
        ``(H, W)``; used to interpret flat ``(N, H*W)`` input.

    Returns
    -------
    images5 : numpy.ndarray, shape (5*N, H, W) or (5*N, H*W)
        Same layout and dtype as ``images``.  Block order (each block holds all N images
        in their original order): the originals, then the copies shifted one pixel
        **up**, **down**, **left**, **right** (see :data:`EXPANSION_SHIFTS`).  The row or
        column that is vacated by the shift is zero.
    labels5 : numpy.ndarray, shape (5*N,)
        ``labels`` repeated five times in the same block order.

    Raises
    ------
    ValueError
        Mismatched lengths or an image shape that does not fit ``image_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((1, 3, 3), np.uint8); x[0, 1, 1] = 9
    >>> x5, y5 = expand_with_shifts(x, np.array([7]), image_shape=(3, 3))
    >>> x5.shape, y5.tolist()
    ((5, 3, 3), [7, 7, 7, 7, 7])
    >>> x5[1].tolist()  # moved up
    [[0, 9, 0], [0, 0, 0], [0, 0, 0]]
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    h, w = (int(s) for s in image_shape)
    n = images.shape[0] if images.ndim else 0
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match {n} images, got {labels.shape}")
    if images.shape[1:] == (h * w,):
        flat = True
    elif images.shape[1:] == (h, w):
        flat = False
    else:
        raise ValueError(
            f"images must have shape (N, {h}, {w}) or (N, {h * w}), got {images.shape}"
        )
    grid = images.reshape(n, h, w)
    blocks = [_shift_host(grid, dy, dx) for dy, dx in EXPANSION_SHIFTS]
    images5 = np.concatenate(blocks, axis=0)
    if flat:
        images5 = images5.reshape(5 * n, h * w)
    return images5, np.concatenate([labels] * len(EXPANSION_SHIFTS))


def shift_images(
    xp: ModuleType,
    images_flat: Array,
    dy: Array,
    dx: Array,
    image_shape: tuple[int, int] = (28, 28),
    *,
    max_shift: int | None = None,
) -> Array:
    """Shift every image of a batch by its own ``(dy[i], dx[i])``, on the device.

    Array API standard operations only: the batch is zero-padded by ``k = max_shift``
    pixels on every side (two ``concat``), flat source indices are computed from a row
    part ``(b, H)`` and a column part ``(b, W)`` (one broadcast add), and a single
    ``take`` gathers the result.  Works for any dtype (shift uint8 before converting to
    float: four times less memory traffic).

    Parameters
    ----------
    xp : module
        Array namespace of ``images_flat``.
    images_flat : array, shape (b, H*W)
        The batch, one flattened image per row.
    dy, dx : array of int, shape (b,)
        Per-image shift, down / right positive, on the same device.
    image_shape : tuple of int, default (28, 28)
        ``(H, W)``.
    max_shift : int, optional
        An upper bound on ``|dy|`` and ``|dx|`` (the padding width).  ``None`` computes
        it from the data, which synchronises with the device (pass it in hot loops).

    Returns
    -------
    array, shape (b, H*W)
        ``out[i, r*W + c] = images[i, (r - dy[i])*W + (c - dx[i])]`` where that pixel
        exists, else 0.  Same dtype and device as ``images_flat``.

    Raises
    ------
    ValueError
        If ``images_flat`` is not ``(b, H*W)``.
    """
    h, w = (int(s) for s in image_shape)
    if images_flat.ndim != 2 or images_flat.shape[1] != h * w:
        raise ValueError(
            f"images_flat must have shape (b, {h * w}) for image_shape {(h, w)}, "
            f"got {images_flat.shape}"
        )
    b = int(images_flat.shape[0])
    dev = array_api_compat.device(images_flat)
    itype = index_dtype(xp, dev)  # int64, but int32 on JAX without 64-bit mode (no warning)
    dy = xp.astype(dy, itype, copy=False)
    dx = xp.astype(dx, itype, copy=False)
    if max_shift is None:
        max_shift = int(xp.max(xp.abs(xp.concat((dy, dx))))) if b else 0
    k = int(max_shift)
    if b == 0 or k == 0:
        # Nothing can move (by contract |dy|, |dx| <= k): a copy keeps ownership simple.
        return xp.asarray(images_flat, copy=True)
    hp, wp = h + 2 * k, w + 2 * k
    img = xp.reshape(images_flat, (b, h, w))
    zc = xp.zeros((b, h, k), dtype=images_flat.dtype, device=dev)
    img = xp.concat((zc, img, zc), axis=2)  # (b, h, wp)
    zr = xp.zeros((b, k, wp), dtype=images_flat.dtype, device=dev)
    padded = xp.reshape(xp.concat((zr, img, zr), axis=1), (-1,))  # (b*hp*wp,)
    # Source of out[i, r, c] is padded[i, r - dy + k, c - dx + k]; in range whenever
    # |dy|, |dx| <= k, and it lands in the zero border exactly when the pixel is vacated.
    # As a flat index: a per-image offset plus a per-pixel part, one broadcast add.
    rows = xp.reshape(xp.arange(h, dtype=itype, device=dev) * wp, (h, 1))
    cols = xp.reshape(xp.arange(w, dtype=itype, device=dev), (1, w))
    grid = xp.reshape(rows + cols, (1, h * w))  # r * wp + c
    offset = xp.arange(b, dtype=itype, device=dev) * (hp * wp) + (k - dy) * wp + (k - dx)
    src = xp.reshape(xp.reshape(offset, (b, 1)) + grid, (-1,))  # (b * h * w,)
    out = xp.take(padded, src, axis=0)
    return xp.reshape(out, (b, h * w))


class ShiftedRows:
    """A resident data set stored for shifting by gathering rows (see the module docstring).

    Parameters
    ----------
    xp : module
        Array namespace of ``images_flat``.
    images_flat : array, shape (N, H*W)
        The data set on its device (any dtype; uint8 for MNIST).
    image_shape : tuple of int
        ``(H, W)``.
    max_shift : int
        ``k >= 1``: shifts ``-k <= dy, dx <= k``.

    Attributes
    ----------
    rows : array, shape (N * (H + 2k) * (2k + 1), W)
        Row ``((n * (H + 2k) + p) * (2k + 1) + j)`` is row ``p`` of image ``n`` zero-padded
        by ``k``, columns ``j .. j + W - 1`` of the padded row (``j = k - dx``).
    """

    def __init__(
        self, xp: ModuleType, images_flat: Array, image_shape: tuple[int, int], max_shift: int
    ) -> None:
        h, w = (int(s) for s in image_shape)
        k = int(max_shift)
        if k < 1:
            raise ValueError(f"max_shift must be >= 1, not {max_shift}")
        self.xp, self.shape, self.k = xp, (h, w), k
        dev = array_api_compat.device(images_flat)
        n = int(images_flat.shape[0])
        img = xp.reshape(images_flat, (n, h, w))
        zc = xp.zeros((n, h, k), dtype=images_flat.dtype, device=dev)
        img = xp.concat((zc, img, zc), axis=2)
        zr = xp.zeros((n, k, w + 2 * k), dtype=images_flat.dtype, device=dev)
        padded = xp.concat((zr, img, zr), axis=1)  # (n, h + 2k, w + 2k)
        windows = [padded[:, :, j : j + w] for j in range(2 * k + 1)]
        self.rows = xp.reshape(xp.stack(windows, axis=2), (-1, w))
        copies = 2 * k + 1
        self._index = index_dtype(xp, dev)
        steps = xp.arange(h, dtype=self._index, device=dev) * copies
        self._row_steps = xp.reshape(steps, (1, h))

    @staticmethod
    def nbytes(n: int, image_shape: tuple[int, int], max_shift: int, itemsize: int = 1) -> int:
        """Bytes of :attr:`rows` for ``n`` images (to check a memory budget first)."""
        h, w = image_shape
        k = int(max_shift)
        return n * (h + 2 * k) * (2 * k + 1) * w * itemsize

    def gather(self, samples: Array, dy: Array, dx: Array) -> Array:
        """Images ``samples`` shifted by ``(dy, dx)``: ``(b, H*W)``, as :func:`shift_images`.

        ``samples``, ``dy`` and ``dx`` are integer arrays of shape (b,) on the device, with
        ``|dy|, |dx| <= k``.
        """
        xp = self.xp
        h, w = self.shape
        k, copies = self.k, 2 * self.k + 1
        i64 = self._index  # int64 (int32 on JAX without 64-bit mode)
        top = xp.astype(samples, i64) * (h + 2 * k) + (k - xp.astype(dy, i64))
        first = top * copies + (k - xp.astype(dx, i64))  # row 0 of each shifted image
        index = xp.reshape(xp.reshape(first, (-1, 1)) + self._row_steps, (-1,))
        return xp.reshape(xp.take(self.rows, index, axis=0), (-1, h * w))
