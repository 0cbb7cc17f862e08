"""Standardised features: statistics of the training rows, folded into the first layer.

Training on standardised features ``(x - mean) / scale`` (``TrainingConfig.standardize``)
is training a network whose first layer reads the raw features through

    W' = W diag(1/scale),    b' = b - W' mean,

since ``W ((x - mean) / scale) + b = W' x + b'``.  When training ends (normally, stopped
early, diverged or interrupted) those become the first layer's parameters, so the trained
network takes the features *as given*: ``predict``, ``evaluate`` and saved models need no
separate scaler, and one input convention holds everywhere.  During training the weights
live in the standardised space (checkpoints hold them so, and a resumed run recomputes the
same statistics from the same data); a best-model file gets the folded copy.

The statistics are computed on the device, from the training rows only (never the
validation or test rows); a constant column gets scale 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..backend import Array
from ..data.feature_batches import is_image_data, to_backend
from ..nn.network import Network

__all__ = ["Standardization", "device_features", "feature_statistics", "folded_when_done"]


def feature_statistics(xp: Any, X: Array) -> tuple[Array, Array]:
    """Column means and standard deviations of ``X`` (n, d), on its device.

    Returns
    -------
    (mean, scale) : arrays of shape (d,)
        ``scale`` is the standard deviation, 1 where a column is constant (nothing to
        divide by).
    """
    std = xp.std(X, axis=0)
    return xp.mean(X, axis=0), xp.where(std > 0.0, std, xp.ones_like(std))


@dataclass(frozen=True)
class Standardization:
    """Mean and scale of the training features, on the network's device.

    Attributes
    ----------
    mean, scale : arrays of shape (n_inputs,)
    """

    mean: Array
    scale: Array

    @classmethod
    def fit(cls, network: Network, X: Array) -> Standardization:
        """The statistics of features ``X`` (n, n_inputs) on the network's device (see
        :func:`device_features`)."""
        return cls(*feature_statistics(network.xp, X))

    def apply(self, X: Array) -> Array:
        """``(X - mean) / scale`` for features ``X`` on the network's device."""
        return (X - self.mean) / self.scale

    def folded_parameters(self, network: Network) -> list[Array]:
        """The network's parameters with the standardisation folded into the first layer."""
        parameters = network.copy_parameters()
        n = network.n_layers
        W = parameters[0] / self.scale  # W' = W diag(1/scale): column j over scale[j]
        parameters[n] = parameters[n] - network.xp.matmul(W, self.mean)  # b' = b - W' mean
        parameters[0] = W
        return parameters

    def fold_into(self, network: Network) -> None:
        """Make ``network`` read raw features (call once, when training ends)."""
        network.load_parameters(self.folded_parameters(network))

    def folded_copy(self, network: Network) -> Network:
        """A copy of ``network`` that reads raw features; ``network`` is left alone."""
        clone = network.to(network.backend)
        clone.load_parameters(self.folded_parameters(clone))
        return clone


def device_features(network: Network, features: Any) -> Array:
    """Numeric features (host or device, any dtype) on the network's device and in its
    dtype: the one copy to the device of standardised training.

    Raises
    ------
    ValueError
        ``features`` are ``uint8`` images, which are scaled by 1/255 instead.
    """
    if is_image_data(features):
        raise ValueError(
            "standardize applies to numeric features; uint8 images are scaled by 1/255 "
            "on the device instead (convert them to floats to standardise them)"
        )
    return to_backend(features, network.backend, network.dtype_name)


@contextmanager
def folded_when_done(network: Network, standardization: Standardization | None) -> Iterator[None]:
    """However the block ends (done, stopped early, diverged, interrupted), fold
    ``standardization`` into ``network``, which then reads the features as given."""
    try:
        yield
    finally:
        if standardization is not None:
            standardization.fold_into(network)
