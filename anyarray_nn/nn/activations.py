"""Activation functions ``phi`` and their derivatives, written once for any array namespace.

Each activation maps the weighted input ``Z`` (batch, n) to the activation ``A = phi(Z)``
(the ``phi`` of the essay's (10), see ``docs/math.md``) and back-propagates an upstream
gradient through itself: ``dZ = dA ⊙ phi'(Z)`` for element-wise activations (the ``⊙ phi'``
of the essay's (13)), the Jacobian-vector product for softmax.  Functions receive the
namespace ``xp`` explicitly (Chainer's ``xp`` idiom), so the hot loop never pays for
namespace inspection.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

Array = Any

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Activation",
    "get_activation",
]

#: A unit counts as saturated when its sigmoid output is this close to 0 or 1
#: (its derivative is then below 0.01, so it barely learns).
SATURATION_MARGIN = 0.01


@dataclass(frozen=True)
class Activation:
    """An activation function: its name, forward map and backward (vector-Jacobian) map."""

    name: str

    def forward(self, xp: ModuleType, Z: Array) -> Array:
        """``A = phi(Z)`` for ``Z`` of shape (batch, n)."""
        raise NotImplementedError

    def backward(self, xp: ModuleType, Z: Array, A: Array, dA: Array) -> Array:
        """Gradient with respect to ``Z`` given the gradient ``dA`` with respect to ``A``.

        Element-wise activations return ``dA * phi'(Z)`` (as in (13)); both ``Z`` and ``A`` are
        passed so each can use whichever is cheaper.
        """
        raise NotImplementedError

    def saturated(self, xp: ModuleType, A: Array) -> Array:
        """Boolean mask of units whose derivative is (nearly) zero, for teaching statistics."""
        return xp.zeros(A.shape, dtype=xp.bool, device=A.device)

    def __str__(self) -> str:
        return self.name


class _Sigmoid(Activation):
    def forward(self, xp: ModuleType, Z: Array) -> Array:
        # sigma(z) = (1 + tanh(z/2)) / 2: one transcendental, and no exp() overflow for the
        # large |Z| of a saturated network.
        return 0.5 + 0.5 * xp.tanh(0.5 * Z)

    def backward(self, xp: ModuleType, Z: Array, A: Array, dA: Array) -> Array:
        g = A * (1.0 - A)  # sigma' = sigma (1 - sigma)
        g *= dA
        return g

    def saturated(self, xp: ModuleType, A: Array) -> Array:
        return (A < SATURATION_MARGIN) | (A > 1.0 - SATURATION_MARGIN)


class _ReLU(Activation):
    def forward(self, xp: ModuleType, Z: Array) -> Array:
        return xp.maximum(Z, 0.0)

    def backward(self, xp: ModuleType, Z: Array, A: Array, dA: Array) -> Array:
        # A 0/1 mask times dA, multiplied in place (``where`` is several times slower on
        # NumPy: it branches on the sign of every element).
        g = xp.astype(Z > 0.0, dA.dtype)
        g *= dA
        return g

    def saturated(self, xp: ModuleType, A: Array) -> Array:
        return A == 0.0


class _Tanh(Activation):
    def forward(self, xp: ModuleType, Z: Array) -> Array:
        return xp.tanh(Z)

    def backward(self, xp: ModuleType, Z: Array, A: Array, dA: Array) -> Array:
        return dA * (1.0 - A * A)

    def saturated(self, xp: ModuleType, A: Array) -> Array:
        return xp.abs(A) > 1.0 - 2.0 * SATURATION_MARGIN


class _Identity(Activation):
    def forward(self, xp: ModuleType, Z: Array) -> Array:
        return Z

    def backward(self, xp: ModuleType, Z: Array, A: Array, dA: Array) -> Array:
        return dA


class _Softmax(Activation):
    def forward(self, xp: ModuleType, Z: Array) -> Array:
        # Subtracting the row maximum leaves softmax unchanged and keeps exp() finite.
        E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
        E /= xp.sum(E, axis=1, keepdims=True)  # E is fresh: normalise in place
        return E

    def backward(self, xp: ModuleType, Z: Array, A: Array, dA: Array) -> Array:
        # Jacobian-vector product of softmax: A ⊙ (dA - <dA, A>) row by row.
        return A * (dA - xp.sum(dA * A, axis=1, keepdims=True))

    def saturated(self, xp: ModuleType, A: Array) -> Array:
        return (A < SATURATION_MARGIN) | (A > 1.0 - SATURATION_MARGIN)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": _Sigmoid("sigmoid"),
    "relu": _ReLU("relu"),
    "tanh": _Tanh("tanh"),
    "identity": _Identity("identity"),
    "softmax": _Softmax("softmax"),
}
#: Activations allowed in hidden layers.
HIDDEN_ACTIVATIONS = ("sigmoid", "relu", "tanh", "identity")
#: Activations allowed in the output layer.
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "identity")

_ALIASES = {"linear": "identity", "none": "identity", "logistic": "sigmoid"}


def get_activation(name: str | Activation, *, output: bool = False) -> Activation:
    """Look up an activation by name.

    Parameters
    ----------
    name : str or Activation
        One of :data:`HIDDEN_ACTIVATIONS` (``output=False``) or :data:`OUTPUT_ACTIVATIONS`
        (``output=True``).
    output : bool
        Whether the activation is for the output layer.

    Raises
    ------
    ValueError
        If the name is unknown or not allowed where it is used.
    """
    if isinstance(name, Activation):
        name = name.name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a string, not {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    allowed = OUTPUT_ACTIVATIONS if output else HIDDEN_ACTIVATIONS
    where = "output" if output else "hidden"
    if key not in allowed:
        raise ValueError(f"unknown {where} activation {name!r}; choose one of {', '.join(allowed)}")
    return ACTIVATIONS[key]
