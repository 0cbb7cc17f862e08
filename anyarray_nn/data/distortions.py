"""Elastic and affine distortions of a batch, on the device where the batch lives.

A digit bent a little, turned a few degrees, made a little wider or narrower is still the
same digit: training on such variants is how fully-connected networks went from ~98.4% to
99.3% (Simard et al. 2003, 784-800-10 with elastic distortions) and 99.65% (Ciresan et al.
2010, deep MLPs with elastic and affine distortions).

What a distortion is
--------------------
Every output pixel ``p = (r, c)`` of an image takes its value from a *source* position

.. math:: s(p) = M_i (p - o) + o + t_i + \\alpha_i\\,u_i(p)

read with bilinear interpolation (positions outside the image read 0), where ``o`` is the
image centre, ``M_i`` a 2x2 matrix (rotation, scaling, shear), ``t_i`` a translation and
``u_i`` a smooth random displacement field (the *elastic* part: uniform noise in
``[-1, 1]`` convolved with a Gaussian of standard deviation ``sigma``, scaled by ``alpha``,
Simard et al. 2003, section 2).  With ``alpha = 0`` and ``M = I``, ``t = 0`` every source
is an integer position and the output equals the input exactly.

How it runs (the design)
------------------------
* **Written once** against the Array API standard: the Gaussian smoothing is two products
  with a Gaussian matrix (:func:`gaussian_matrix`, :func:`smooth_fields`: ``G F G^T``), the
  bilinear sampling is four gathers (``xp.take`` on the zero-padded, flattened batch) and a
  few element-wise operations.  NumPy, CuPy, array_api_strict, PyTorch and JAX run the same
  lines.
* **Randomness from the host, a few numbers per image.**  Drawing a fresh field per image
  on the host would send ``2*H*W`` floats per image over the bus.  Instead a *bank* of
  ``bank_size`` smoothed fields is made once (seeded uniform noise on the host, smoothed in
  float64, cast) and moved to the device once.  Per image the host draws two bank indices
  ``j, k`` and an angle ``theta``; the image's field is
  ``cos(theta) u_j + sin(theta) u_k`` -- a sum of two independent fields with weights whose
  squares add to one has the same statistics as one field, and the continuous angle makes
  the number of distinct fields unbounded.  Together with the affine matrix and
  translation these are 2 integers and 8 floats per image, drawn for the whole epoch and
  copied once per epoch, like the permutation.
* **Same seed, same batches on every backend**: the bank and every per-image number are
  computed on the host in float64 and cast; the device only does IEEE element-wise
  arithmetic, ``floor`` and gathers, which every backend rounds alike.

Parameters and their sources
----------------------------
:data:`LIGHT` (``alpha=12``, ``sigma=4``) is this library's weaker variant for small
networks.  :data:`SIMARD_2003`: ``sigma=4``, ``alpha=34``, no affine part (Simard,
Steinkraus, Platt, *Best practices for convolutional neural networks applied to visual
document analysis*, ICDAR 2003).  :data:`CIRESAN_2010`: elastic ``sigma=6``, ``alpha=36``,
rotations up to 15 degrees, horizontal and vertical scaling up to 15% (independently), in
the ranges of Ciresan, Meier, Gambardella, Schmidhuber, *Deep, big, simple neural nets for
handwritten digit recognition*, Neural Computation 2010 (sigma 5-6, alpha 31-38 by network,
rotation up to 5-15 degrees, scaling up to 15-20%); shear and translation are not from that
paper and are 0 there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import array_api_compat
import array_api_compat.numpy as host_xp  # the bank of fields is made on the host
import numpy as np

from ..backend import index_dtype

__all__ = [
    "CIRESAN_2010",
    "DISTORTION_PRESETS",
    "LIGHT",
    "SIMARD_2003",
    "BoundDistortions",
    "Distortions",
    "gaussian_matrix",
    "smooth_fields",
]

Array = Any
_N_FLOATS = 8  # per image: w_j, w_k, M (4), t (2)


def gaussian_matrix(xp: ModuleType, n: int, sigma: float, *, dtype: Any, device: Any) -> Array:
    """The ``(n, n)`` matrix ``G`` with ``(G f)[r] = sum_s g(r - s) f[s]``, g a Gaussian.

    ``g(d) = exp(-d^2 / (2 sigma^2)) / Z`` with ``Z`` the kernel's sum over all integers
    (not over the image), so ``G f`` is the convolution with zeros outside the image.
    ``sigma = 0`` gives the identity.
    """
    if sigma <= 0.0:
        return xp.eye(n, dtype=dtype, device=device)
    r = xp.arange(n, dtype=dtype, device=device)
    d = xp.reshape(r, (n, 1)) - xp.reshape(r, (1, n))
    half = math.ceil(6.0 * sigma) + n
    z = sum(math.exp(-(k * k) / (2.0 * sigma * sigma)) for k in range(-half, half + 1))
    return xp.exp(-(d * d) / (2.0 * sigma * sigma)) / z


def smooth_fields(xp: ModuleType, noise: Array, sigma: float) -> Array:
    """Smooth fields ``(..., H, W)`` with a Gaussian: ``G_H @ F @ G_W^T`` (separable)."""
    h, w = int(noise.shape[-2]), int(noise.shape[-1])
    dev = array_api_compat.device(noise)
    gh = gaussian_matrix(xp, h, sigma, dtype=noise.dtype, device=dev)
    gw = gaussian_matrix(xp, w, sigma, dtype=noise.dtype, device=dev)
    return xp.matmul(xp.matmul(gh, noise), xp.matrix_transpose(gw))


@dataclass(frozen=True)
class Distortions:
    """Hyper-parameters of random elastic + affine distortions (plain Python values).

    Attributes
    ----------
    alpha : float
        Scale of the elastic displacement field, pixels per unit of smoothed noise
        (Simard: 34).  0 switches the elastic part off.
    sigma : float
        Standard deviation of the Gaussian that smooths the noise, pixels (Simard: 4).
    rotation : float
        Maximum rotation, degrees (uniform in ``[-rotation, rotation]``).
    scale : float
        Maximum relative scaling, drawn independently for rows and columns (0.15: +-15%).
    shear : float
        Maximum shear factor (``x += shear * y``).
    translation : float
        Maximum translation, pixels, per axis.
    bank_size : int
        Smoothed fields made once and moved to the device once.
    seed : int
        Seed of the bank (the per-image numbers come from the caller's generator).
    """

    alpha: float = 34.0
    sigma: float = 4.0
    rotation: float = 0.0
    scale: float = 0.0
    shear: float = 0.0
    translation: float = 0.0
    bank_size: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("alpha", "sigma", "rotation", "scale", "shear", "translation"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"distortion {name} must be a number >= 0, not {value}")
            object.__setattr__(self, name, value)
        if self.scale >= 1.0:
            raise ValueError(f"distortion scale must be below 1, not {self.scale}")
        if int(self.bank_size) < 1:
            raise ValueError(f"bank_size must be >= 1, not {self.bank_size}")

    def host_bank(self, image_shape: tuple[int, int]) -> np.ndarray:
        """The bank ``(bank_size, 2, H, W)`` of unscaled smoothed fields, float64, host."""
        h, w = image_shape
        rng = np.random.default_rng(self.seed)
        noise = rng.uniform(-1.0, 1.0, size=(int(self.bank_size), 2, h, w))
        return np.asarray(smooth_fields(host_xp, noise, self.sigma))

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-image numbers for ``n`` images from the host generator ``rng``.

        Returns
        -------
        indices : numpy.ndarray of int64, shape (n, 2)
            Two bank indices per image.
        coefficients : numpy.ndarray of float64, shape (n, 8)
            ``alpha cos(theta), alpha sin(theta), M00, M01, M10, M11, t_row, t_col``.
        """
        indices = rng.integers(0, int(self.bank_size), size=(n, 2), dtype=np.int64)
        theta = rng.uniform(0.0, 2.0 * math.pi, size=n)
        angle = np.deg2rad(rng.uniform(-self.rotation, self.rotation, size=n))
        s_row = 1.0 + rng.uniform(-self.scale, self.scale, size=n)
        s_col = 1.0 + rng.uniform(-self.scale, self.scale, size=n)
        shear = rng.uniform(-self.shear, self.shear, size=n)
        t = rng.uniform(-self.translation, self.translation, size=(n, 2))
        cos, sin = np.cos(angle), np.sin(angle)
        # M = rotation @ shear @ diag(s_row, s_col), acting on (row, col) offsets.
        m00, m01 = cos * s_row, (cos * shear - sin) * s_col
        m10, m11 = sin * s_row, (sin * shear + cos) * s_col
        weights = [self.alpha * np.cos(theta), self.alpha * np.sin(theta)]
        coefficients = np.stack([*weights, m00, m01, m10, m11, t[:, 0], t[:, 1]], axis=1)
        return indices, coefficients

    def bind(
        self, xp: ModuleType, device: Any, dtype: Any, image_shape: tuple[int, int] = (28, 28)
    ) -> BoundDistortions:
        """These distortions with their bank on ``device`` (moved once)."""
        return BoundDistortions(self, xp, device, dtype, image_shape)


#: Simard et al. 2003: elastic only, sigma 4, alpha 34.
SIMARD_2003 = Distortions()
#: Weaker elastic distortions (alpha 12) for small networks: 784-64-10 underfits Simard's
#: (92.5% training accuracy on distorted images) and scores higher with these (measured).
LIGHT = replace(SIMARD_2003, alpha=12.0)
#: Elastic + affine in the ranges of Ciresan et al. 2010 (see the module docstring).
CIRESAN_2010 = replace(SIMARD_2003, sigma=6.0, alpha=36.0, rotation=15.0, scale=0.15)
#: The one name table of distortions (``TrainingConfig.distortions``, ``--distortions``).
DISTORTION_PRESETS: dict[str, Distortions | None] = {
    "none": None,
    "light": LIGHT,
    "simard": SIMARD_2003,
    "ciresan": CIRESAN_2010,
}


class BoundDistortions:
    """:class:`Distortions` whose field bank lives on a device; applies them to batches.

    Parameters
    ----------
    spec : Distortions
    xp : module
        Array namespace of the batches.
    device : object
        Their device.
    dtype : floating dtype of ``xp``
        Their dtype (the bank and the per-image numbers are cast to it).
    image_shape : (int, int)
    """

    def __init__(
        self,
        spec: Distortions,
        xp: ModuleType,
        device: Any,
        dtype: Any,
        image_shape: tuple[int, int] = (28, 28),
    ) -> None:
        self.spec, self.xp, self.device, self.dtype = spec, xp, device, dtype
        self.index_dtype = index_dtype(xp, device)  # int64 (int32 on JAX without 64-bit mode)
        h, w = (int(s) for s in image_shape)
        self.image_shape = (h, w)
        bank = spec.host_bank((h, w)).reshape(int(spec.bank_size), 2 * h * w)
        self.bank = xp.asarray(bank, dtype=dtype, device=device)  # the one copy
        rows = np.repeat(np.arange(h, dtype=np.float64) - (h - 1) / 2.0, w)
        cols = np.tile(np.arange(w, dtype=np.float64) - (w - 1) / 2.0, h)
        # Offsets from the centre of every pixel, (2, H*W); exact in any float dtype.
        self.offsets = xp.asarray(np.stack([rows, cols]), dtype=dtype, device=device)
        # The pixels' own (row, column), for distortions without an affine part.
        centre = np.array([[(h - 1) / 2.0], [(w - 1) / 2.0]])
        self.grid = xp.asarray(np.stack([rows, cols]) + centre, dtype=dtype, device=device)
        s = spec
        self.affine = bool(s.rotation or s.scale or s.shear or s.translation)

    def to_device(self, drawn: tuple[np.ndarray, np.ndarray]) -> tuple[Array, Array]:
        """Copy an epoch's per-image numbers (from :meth:`Distortions.draw`) to the device."""
        indices, coefficients = drawn
        xp = self.xp
        return (
            xp.asarray(indices, dtype=self.index_dtype, device=self.device),
            xp.asarray(coefficients, dtype=self.dtype, device=self.device),
        )

    def source_positions(self, indices: Array, coefficients: Array) -> tuple[Array, Array]:
        """Source row and column ``(b, H*W)`` of every output pixel (the formula above)."""
        xp = self.xp
        h, w = self.image_shape
        hw = h * w
        col = [xp.reshape(coefficients[:, k], (-1, 1)) for k in range(_N_FLOATS)]
        if self.affine:
            pr, pc = self.offsets[0:1, :], self.offsets[1:2, :]
            src_r = col[2] * pr + col[3] * pc + (col[6] + (h - 1) / 2.0)
            src_c = col[4] * pr + col[5] * pc + (col[7] + (w - 1) / 2.0)
        else:  # M = I, t = 0 (the same values, exactly, for fewer operations)
            src_r, src_c = self.grid[0:1, :], self.grid[1:2, :]
        if self.spec.alpha > 0.0:  # u = cos(theta) u_j + sin(theta) u_k, scaled by alpha
            fj = xp.take(self.bank, indices[:, 0], axis=0)
            fk = xp.take(self.bank, indices[:, 1], axis=0)
            field = col[0] * fj + col[1] * fk  # (b, 2*H*W)
            src_r = src_r + field[:, :hw]
            src_c = src_c + field[:, hw:]
        b = int(coefficients.shape[0])
        return xp.broadcast_to(src_r, (b, hw)), xp.broadcast_to(src_c, (b, hw))

    def apply(self, X: Array, indices: Array, coefficients: Array) -> Array:
        """Distort a batch.

        Parameters
        ----------
        X : array, shape (b, H*W)
            Floating images on this device, values typically in ``[0, 1]``.
        indices : array of the index dtype (int64; int32 on JAX without 64-bit mode), shape (b, 2)
        coefficients : array, shape (b, 8)
            Rows of :meth:`to_device`'s arrays for these images (the affine columns are
            not read when the distortions have no affine part: ``M = I``, ``t = 0``).

        Returns
        -------
        array, shape (b, H*W)
            Same dtype and device; each value a convex combination of four input pixels
            (or 0 outside the image), so values stay in the input's range.
        """
        xp = self.xp
        h, w = self.image_shape
        b = int(X.shape[0])
        if b == 0:
            return xp.asarray(X, copy=True)
        src_r, src_c = self.source_positions(indices, coefficients)
        # Clamp to one pixel outside the image: such positions read the zero border.
        src_r = xp.clip(src_r, -1.0, float(h))
        src_c = xp.clip(src_c, -1.0, float(w))
        r0, c0 = xp.floor(src_r), xp.floor(src_c)
        fr, fc = src_r - r0, src_c - c0
        pad = 2  # rows/cols -1 and H, H+1 read zeros
        wp = w + 2 * pad
        flat = _zero_pad(xp, X, (h, w), pad)  # (b * (H+4) * (W+4),)
        itype = self.index_dtype
        base = xp.reshape(xp.arange(b, dtype=itype, device=self.device), (b, 1))
        base = base * ((h + 2 * pad) * wp) + (pad * wp + pad)
        # r0 * wp + c0 < (H + 4) * (W + 4): exact in any float dtype for image sizes.
        i00 = xp.astype(r0 * float(wp) + c0, itype) + base
        i00 = xp.reshape(i00, (-1,))
        v00, v01 = xp.take(flat, i00, axis=0), xp.take(flat, i00 + 1, axis=0)
        v10, v11 = xp.take(flat, i00 + wp, axis=0), xp.take(flat, i00 + (wp + 1), axis=0)
        fr, fc = xp.reshape(fr, (-1,)), xp.reshape(fc, (-1,))
        top = v00 + fc * (v01 - v00)
        bottom = v10 + fc * (v11 - v10)
        return xp.reshape(top + fr * (bottom - top), (b, h * w))


def _zero_pad(xp: ModuleType, X: Array, shape: tuple[int, int], pad: int) -> Array:
    """``(b, H*W)`` -> the flattened ``(b, H+2p, W+2p)`` batch with a zero border."""
    h, w = shape
    b = int(X.shape[0])
    dev = array_api_compat.device(X)
    img = xp.reshape(X, (b, h, w))
    zc = xp.zeros((b, h, pad), dtype=X.dtype, device=dev)
    img = xp.concat((zc, img, zc), axis=2)
    zr = xp.zeros((b, pad, w + 2 * pad), dtype=X.dtype, device=dev)
    return xp.reshape(xp.concat((zr, img, zr), axis=1), (-1,))
