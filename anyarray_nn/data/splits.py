"""Hold out a validation set from the training data (host side, NumPy)."""

from __future__ import annotations

import numpy as np

from ..backend import host_rng

__all__ = ["train_validation_split"]


def train_validation_split(
    images: np.ndarray,
    labels: np.ndarray,
    validation_size: int | float,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out a random validation set from the training data, on the host.

    Model selection (early stopping, hyper-parameters) must use this validation set, never
    the MNIST test set: the test set is only for the final, once-only estimate of accuracy.

    Parameters
    ----------
    images : numpy.ndarray
        Training images, first axis = samples.
    labels : numpy.ndarray
        Training labels, same length as ``images``.
    validation_size : int or float
        Number of validation samples (``0 <= n < N``), or a fraction in ``[0, 1)`` of the
        samples (rounded to the nearest count).  ``0`` gives an empty validation set.
    seed : int, numpy.random.Generator or None, default 0
        Seed of the ``numpy.random.Generator`` that draws the permutation; the same seed
        gives the same split.  ``None`` draws a fresh, irreproducible split.

    Returns
    -------
    train_images, train_labels, val_images, val_labels : numpy.ndarray
        New arrays (copies); together they hold every sample exactly once.

    Raises
    ------
    ValueError
        ``images`` and ``labels`` differ in length, or ``validation_size`` is negative,
        not below the number of samples (or 1 as a fraction), or not a number.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    n = len(images)
    if len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} labels")
    if isinstance(validation_size, (bool, np.bool_)):
        raise ValueError(f"validation_size must be a count or a fraction, got {validation_size}")
    if isinstance(validation_size, (int, np.integer)):
        n_val = int(validation_size)
        if not 0 <= n_val < n:
            raise ValueError(
                f"validation_size={n_val} must be at least 0 and below the {n} samples "
                "(some must remain for training)"
            )
    elif isinstance(validation_size, (float, np.floating)):
        fraction = float(validation_size)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"validation_size={fraction} as a fraction must be in [0, 1)")
        n_val = round(fraction * n)
        if n_val >= n:
            raise ValueError(f"validation_size={fraction} leaves no training samples out of {n}")
    else:
        raise ValueError(
            f"validation_size must be an int count or a float fraction, "
            f"got {type(validation_size).__name__}"
        )
    order = host_rng(seed).permutation(n)
    val_idx, train_idx = order[:n_val], order[n_val:]
    return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]
