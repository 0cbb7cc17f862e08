"""Reading images of digits (PNG, JPEG, ...) into MNIST-like 28x28 uint8 arrays (host side).

MNIST digits are white (255) on a black (0) background, cropped to their ink, scaled to fit
20x20 and centred by centre of mass in 28x28.  A scan or a drawing is usually a dark digit
anywhere on light paper of any size; :func:`load_digit_image` repeats MNIST's steps on it
(``preprocess="mnist"``, the default; see :mod:`anyarray_nn.data.preprocess`), inverting it
when ``invert="auto"`` (the default) finds a light border.  ``preprocess="resize"`` is the
old conversion (the whole image inverted and resized).  Needs Pillow (``pip install
'anyarray-nn[image]'``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .preprocess import INVERT_CHOICES, _pil_image, border_mean, mnist_like

__all__ = [
    "INVERT_CHOICES",
    "PREPROCESS_CHOICES",
    "ImageFileError",
    "load_digit_image",
    "load_digit_images",
]

#: ``"mnist"``: MNIST's crop / fit 20x20 / centre of mass; ``"fashion"``: Fashion-MNIST's
#: crop / fit 28x28 / centre of the box; ``"resize"``: the whole image.
PREPROCESS_CHOICES = ("mnist", "fashion", "resize")


class ImageFileError(ValueError):
    """An image file is missing or cannot be decoded."""


def load_digit_image(
    path: str | os.PathLike[str],
    *,
    invert: str | bool = "auto",
    size: tuple[int, int] = (28, 28),
    preprocess: str = "mnist",
) -> np.ndarray:
    """Read one image as an MNIST-like digit (or a Fashion-MNIST-like article of clothing).

    Parameters
    ----------
    path : path-like
        A PNG (or any format Pillow reads).
    invert : {"auto", "yes", "no"} or bool
        ``"auto"``: invert when the mean of the border pixels is above 127 (a dark digit on
        a light background), so the digit ends up white on black as in MNIST.
    size : (int, int)
        ``(height, width)`` of the result (square for ``preprocess="mnist"``).
    preprocess : {"mnist", "fashion", "resize"}
        ``"mnist"``: :func:`anyarray_nn.data.preprocess.mnist_like` (crop to the ink, fit
        20x20 keeping the aspect ratio, centre by centre of mass); ``"fashion"``: the same
        crop, fitted to the whole field and centred by its box (Fashion-MNIST's
        conversion); ``"resize"``: resize the whole image (Lanczos), the conversion used
        before.

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
    if preprocess not in PREPROCESS_CHOICES:
        choices = ", ".join(PREPROCESS_CHOICES)
        raise ValueError(f"preprocess must be one of {choices}, not {preprocess!r}")
    if preprocess != "resize" and size[0] != size[1]:
        raise ValueError(f"preprocess={preprocess!r} makes square images, not size {size}")
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
            gray = np.asarray(img.convert("L"), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as exc:  # PIL.UnidentifiedImageError is OSError
        raise ImageFileError(f"{path}: not a readable image ({exc})") from exc
    if preprocess == "mnist":
        return mnist_like(gray, invert=invert, size=int(size[0]), box=round(20 * size[0] / 28))
    if preprocess == "fashion":
        side = int(size[0])
        return mnist_like(gray, invert=invert, size=side, box=side, centre="box")
    if gray.shape != tuple(size):
        resized = Image.fromarray(gray).resize((size[1], size[0]), Image.Resampling.LANCZOS)
        gray = np.asarray(resized, dtype=np.uint8)
    return (
        255 - gray if invert == "yes" or (invert == "auto" and border_mean(gray) > 127.0) else gray
    )


def load_digit_images(
    paths: Sequence[str | os.PathLike[str]],
    *,
    invert: str | bool = "auto",
    size: tuple[int, int] = (28, 28),
    preprocess: str = "mnist",
) -> np.ndarray:
    """Read several images with :func:`load_digit_image`; shape ``(n, *size)``, uint8."""
    if not paths:
        raise ValueError("no image given")
    return np.stack(
        [load_digit_image(p, invert=invert, size=size, preprocess=preprocess) for p in paths]
    )
