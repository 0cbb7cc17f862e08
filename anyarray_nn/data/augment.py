"""Data augmentation by small translations.

Two forms of the same idea (a digit moved by a pixel or two is still the same digit):

* :func:`expand_with_shifts` -- the paper's *static* expansion on the host (NumPy): every
  training image plus four copies moved by one pixel up, down, left and right, five times
  the data.
* :func:`shift_images` -- *on-the-fly* shifts of a batch on the device, written with
  Array API standard operations only, so it runs unchanged on NumPy, CuPy and
  ``array_api_strict`` (any device).  :class:`~anyarray_nn.data.BatchIterator` uses it
  with ``max_shift=k`` so that the expanded set never has to be materialised.

Conventions (both functions): a shift by ``(dy, dx)`` moves the picture ``dy`` pixels
*down* and ``dx`` pixels *right* (negative values: up / left), i.e.
``out[r, c] = in[r - dy, c - dx]``; pixels that would come from outside the image are 0.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

__all__ = ["EXPANSION_SHIFTS", "expand_with_shifts", "shift_images"]

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
    # The default index dtype: int64, but int32 on JAX without 64-bit mode (no warning).
    itype = xp.__array_namespace_info__().default_dtypes(device=dev)["indexing"]
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
