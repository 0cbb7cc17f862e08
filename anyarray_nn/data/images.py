"""Reading images of digits (PNG, JPEG, ...) into MNIST-like 28x28 uint8 arrays (host side).

MNIST digits are white (255) on a black (0) background.  A scan or a drawing is usually the
opposite, a dark digit on light paper; :func:`load_digit_image` inverts such images when
``invert="auto"`` (the default) finds a light border.  Needs Pillow (``pip install
'anyarray-nn[image]'``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["INVERT_CHOICES", "ImageFileError", "load_digit_image", "load_digit_images"]

INVERT_CHOICES = ("auto", "yes", "no")


class ImageFileError(ValueError):
    """An image file is missing or cannot be decoded."""


def _pil_image() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "reading images needs Pillow: pip install 'anyarray-nn[image]' (or pillow)"
        ) from exc
    return Image


def load_digit_image(
    path: str | os.PathLike[str],
    *,
    invert: str | bool = "auto",
    size: tuple[int, int] = (28, 28),
) -> np.ndarray:
    """Read one image as an MNIST-like digit.

    Parameters
    ----------
    path : path-like
        A PNG (or any format Pillow reads).
    invert : {"auto", "yes", "no"} or bool
        ``"auto"``: invert when the mean of the border pixels is above 127 (a dark digit on
        a light background), so the digit ends up white on black as in MNIST.
    size : (int, int)
        ``(height, width)`` of the result; other sizes are resized (Lanczos).

    Returns
    -------
    numpy.ndarray of uint8, shape size
        Gray levels 0..255, digit bright.

    Raises
    ------
    ImageFileError
        The file does not exist or is not a readable image.
    """
    Image = _pil_image()
    path = Path(path)
    if invert is True:
        invert = "yes"
    elif invert is False:
        invert = "no"
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {', '.join(INVERT_CHOICES)}, not {invert!r}")
    if not path.is_file():
        raise ImageFileError(f"{path}: no such image file")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                # Transparent pixels become the background colour (white).
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            gray = img.convert("L")
            if gray.size != (size[1], size[0]):
                gray = gray.resize((size[1], size[0]), Image.Resampling.LANCZOS)
            pixels = np.asarray(gray, dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as exc:  # PIL.UnidentifiedImageError is OSError
        raise ImageFileError(f"{path}: not a readable image ({exc})") from exc
    if invert == "yes" or (invert == "auto" and _border_mean(pixels) > 127.0):
        pixels = 255 - pixels
    return pixels


def load_digit_images(
    paths: Sequence[str | os.PathLike[str]],
    *,
    invert: str | bool = "auto",
    size: tuple[int, int] = (28, 28),
) -> np.ndarray:
    """Read several images with :func:`load_digit_image`; shape ``(n, *size)``, uint8."""
    if not paths:
        raise ValueError("no image given")
    return np.stack([load_digit_image(p, invert=invert, size=size) for p in paths])


def _border_mean(pixels: np.ndarray) -> float:
    border = np.concatenate([pixels[0, :], pixels[-1, :], pixels[1:-1, 0], pixels[1:-1, -1]])
    return float(border.mean())
