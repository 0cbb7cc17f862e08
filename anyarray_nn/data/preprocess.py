"""MNIST's own preprocessing, applied to any image of a digit (host side, NumPy + Pillow).

The MNIST digits were not simply shrunk to 28x28: LeCun et al. took each digit's ink,
scaled it to fit a 20x20 box *keeping its aspect ratio* (with anti-aliasing, hence the grey
levels), and placed it in a 28x28 field so that its **centre of mass** falls on the centre
of the field.  A network trained on MNIST has only ever seen digits made that way.  A
drawing (dark pen on a light canvas of any size, the digit anywhere on it, any size, any
stroke width) resized as a whole looks nothing like that: the digit ends up small,
off-centre, black on white.  :func:`mnist_like` repeats MNIST's steps:

1. **Invert** when the border is light (dark ink on light paper -> light ink on black),
   then subtract the background level (the border's median) so that paper is exactly 0.
2. **Crop** to the ink: the bounding box of the pixels brighter than ``ink_threshold`` of
   the brightest one (faint noise does not stretch the box).
3. **Scale** the crop so that its longer side is 20 pixels (``box``), the shorter one in
   proportion, with Pillow's Lanczos filter (anti-aliased when shrinking), and stretch the
   levels back to 0..255 (a thin pen shrunk would otherwise come out grey).
4. **Centre** the 20x20 patch in 28x28 by its centre of mass (an integer translation, as in
   MNIST, so the centre of mass is within half a pixel of ``(13.5, 13.5)``), clipped so that
   the patch stays inside the field.

Sources: Y. LeCun, C. Cortes, C. Burges, *The MNIST database*, "The original black and
white images from NIST were size normalized to fit in a 20x20 pixel box while preserving
their aspect ratio ... the images were centered in a 28x28 image by computing the center of
mass of the pixels".
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["INVERT_CHOICES", "border_mean", "centre_of_mass", "mnist_like", "whole_resize"]

INVERT_CHOICES = ("auto", "yes", "no")


def _pil_image() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "reading images needs Pillow: pip install 'anyarray-nn[image]' (or pillow)"
        ) from exc
    return Image


def border_mean(pixels: np.ndarray) -> float:
    """Mean gray level of the outermost rows and columns of ``pixels`` (shape (H, W))."""
    return float(_border(pixels).mean())


def _should_invert(gray: np.ndarray, invert: str) -> bool:
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {', '.join(INVERT_CHOICES)}, not {invert!r}")
    return invert == "yes" or (invert == "auto" and border_mean(gray) > 127.0)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """``(row, column)`` of the intensity-weighted centre of ``image`` (shape (H, W)).

    The centre of the pixel grid, ``((H-1)/2, (W-1)/2)``, for an all-zero image.
    """
    img = np.asarray(image, dtype=np.float64)
    total = float(img.sum())
    h, w = img.shape
    if total <= 0.0:
        return (h - 1) / 2.0, (w - 1) / 2.0
    rows = float((img.sum(axis=1) * np.arange(h)).sum()) / total
    cols = float((img.sum(axis=0) * np.arange(w)).sum()) / total
    return rows, cols


def whole_resize(gray: np.ndarray, *, invert: str = "auto", size: int = 28) -> np.ndarray:
    """The naive conversion: invert if needed and resize the whole image to ``size`` x ``size``.

    Kept as the reference :func:`mnist_like` is measured against (tests, docs).
    """
    Image = _pil_image()
    gray = np.asarray(gray, dtype=np.uint8)
    out = np.asarray(Image.fromarray(gray).resize((size, size), Image.Resampling.LANCZOS))
    out = out.astype(np.uint8)
    return 255 - out if _should_invert(gray, invert) else out


def mnist_like(
    gray: np.ndarray,
    *,
    invert: str = "auto",
    size: int = 28,
    box: int = 20,
    ink_threshold: float = 0.2,
    centre: str = "mass",
) -> np.ndarray:
    """Turn a grayscale image of one digit into an MNIST-like ``size`` x ``size`` image.

    Parameters
    ----------
    gray : numpy.ndarray of uint8, shape (H, W)
        Any size; a dark digit on a light background or a light one on a dark background.
    invert : {"auto", "yes", "no"}
        ``"auto"``: invert when the border's mean is above 127 (light paper).
    size : int, default 28
        Side of the result.
    box : int, default 20
        Side of the box the ink is scaled to fit (aspect ratio kept).
    ink_threshold : float, default 0.2
        Fraction of the brightest (background-subtracted) level above which a pixel counts
        as ink for the bounding box.
    centre : {"mass", "box"}, default "mass"
        Place the patch by its centre of mass (MNIST) or centre its bounding box (with
        ``box=size``: Fashion-MNIST's conversion, whose products fill the field's longer
        side and sit in its middle).

    Returns
    -------
    numpy.ndarray of uint8, shape (size, size)
        White (255) digit on black (0), ink within a ``box`` x ``box`` square, its centre
        of mass within half a pixel of ``((size-1)/2, (size-1)/2)`` unless the patch would
        leave the field.  All zeros when the image holds no ink.
    """
    Image = _pil_image()
    gray = np.asarray(gray, dtype=np.uint8)
    if centre not in ("mass", "box"):
        raise ValueError(f"centre must be 'mass' or 'box', not {centre!r}")
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise ValueError(f"gray must be a 2-D image, got shape {gray.shape}")
    ink = gray.astype(np.float64)
    if _should_invert(gray, invert):
        ink = 255.0 - ink
    ink = np.clip(ink - float(np.median(_border(ink))), 0.0, None)  # paper -> exactly 0
    peak = float(ink.max())
    out = np.zeros((size, size), dtype=np.uint8)
    if peak <= 0.0:
        return out
    rows = np.flatnonzero((ink > ink_threshold * peak).any(axis=1))
    cols = np.flatnonzero((ink > ink_threshold * peak).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] * (255.0 / peak)
    h, w = crop.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    patch_img = Image.fromarray(crop.astype(np.float32), mode="F")
    patch = np.asarray(patch_img.resize((new_w, new_h), Image.Resampling.LANCZOS))
    # Lanczos rings below 0; a thin stroke shrunk loses contrast: stretch back to 0..255,
    # as MNIST's digits are (their strokes reach 255 whatever the pen).
    patch = np.clip(patch, 0.0, None)
    patch = np.clip(np.rint(patch * (255.0 / max(float(patch.max()), 1e-12))), 0, 255)
    patch = patch.astype(np.uint8)
    cy, cx = centre_of_mass(patch) if centre == "mass" else ((new_h - 1) / 2, (new_w - 1) / 2)
    middle = (size - 1) / 2.0
    top = min(max(int(np.floor(middle - cy + 0.5)), 0), size - new_h)
    left = min(max(int(np.floor(middle - cx + 0.5)), 0), size - new_w)
    out[top : top + new_h, left : left + new_w] = patch
    return out


def _border(pixels: np.ndarray) -> np.ndarray:
    return np.concatenate([pixels[0, :], pixels[-1, :], pixels[1:-1, 0], pixels[1:-1, -1]])
