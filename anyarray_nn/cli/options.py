"""Argument types shared by the command-line modules (:mod:`.cli`, :mod:`.tune_cli`).

Each turns the text of one option into a checked Python value or raises
:class:`argparse.ArgumentTypeError`, which argparse reports as a one-line usage error.
"""

from __future__ import annotations

import argparse
import math

__all__ = [
    "count_or_fraction",
    "finite_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
]


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _int(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = _int(text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """A finite number."""
    return _finite(text, "a finite number")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _finite(text, "a positive number")
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def count_or_fraction(text: str) -> int | float:
    """A sample count (``"10000"``) or a fraction of a data set (``"0.1"``, ``"1e-1"``)."""
    if any(c in text for c in ".eE"):
        return _finite(text, "a count or a fraction")
    return _int(text, "a count or a fraction")
