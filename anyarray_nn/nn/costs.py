"""Cost functions and the output error ``delta^L`` they start back-propagation with.

A cost is a pair: its value and its output error, side by side. Costs are averaged over the
mini-batch of ``m`` samples ([mean cost] in ``docs/math.md``; the labels in brackets name
equations that the essay does not number):

* [quadratic cost] (the paper's): ``C = 1/(2m) sum_x ||A^L(x) - y(x)||^2``, so that
  ``delta^L = (A^L - Y) ⊙ phi'(Z^L)`` ([output error, quadratic]);
* [cross-entropy cost], fused with a softmax or sigmoid output: computed from the logits
  ``Z^L`` with log-sum-exp / softplus, so it never takes ``log(0)``, and
  ``delta^L = A^L - Y`` ([output error, cross-entropy]): the ``phi'`` factor that makes a
  saturated quadratic-cost output learn slowly cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .activations import Activation

Array = Any

__all__ = ["COSTS", "Cost", "get_cost"]


@dataclass(frozen=True)
class Cost:
    """A cost function: its value on a batch and the output error it back-propagates."""

    name: str

    def check_output(self, output: Activation) -> None:
        """Raise ``ValueError`` when this cost cannot be used with ``output``."""

    def value(self, xp: ModuleType, Z: Array, A: Array, Y: Array) -> Array:
        """Mean cost over the batch, a 0-d array; ``Z``, ``A``, ``Y`` of shape (m, n_out).

        Costs fused with their output compute it in :meth:`forward_value` instead.
        """
        raise NotImplementedError

    def output_delta(
        self, xp: ModuleType, output: Activation, Z: Array, A: Array, Y: Array
    ) -> Array:
        """``delta^L = dC_x/dZ^L`` per sample, shape (m, n_out) (the 1/m comes in ``dW``)."""
        raise NotImplementedError

    def forward_value(
        self, xp: ModuleType, output: Activation, Z: Array, Y: Array
    ) -> tuple[Array, Array]:
        """``(A^L, C)``: the output activation of ``Z`` and the mean cost, in one go.

        Equal to ``A = output.forward(xp, Z)`` and ``value(xp, Z, A, Y)``; costs fused
        with their output override it to share work.
        """
        A = output.forward(xp, Z)
        return A, self.value(xp, Z, A, Y)

    def __str__(self) -> str:
        return self.name


class _Quadratic(Cost):
    def value(self, xp: ModuleType, Z: Array, A: Array, Y: Array) -> Array:
        diff = A - Y
        return 0.5 * xp.sum(diff * diff) / float(Z.shape[0])

    def output_delta(
        self, xp: ModuleType, output: Activation, Z: Array, A: Array, Y: Array
    ) -> Array:
        return output.backward(xp, Z, A, A - Y)  # [output error, quadratic]


class _CrossEntropy(Cost):
    def check_output(self, output: Activation) -> None:
        if output.name not in ("softmax", "sigmoid"):
            raise ValueError(
                f"cost 'cross_entropy' needs a 'softmax' or 'sigmoid' output layer, not "
                f"{output.name!r}; use cost='quadratic' with an identity output"
            )

    def output_delta(
        self, xp: ModuleType, output: Activation, Z: Array, A: Array, Y: Array
    ) -> Array:
        return A - Y  # [output error, cross-entropy]: phi' cancels for these outputs


class _SoftmaxCrossEntropy(_CrossEntropy):
    """Cross-entropy fused with a softmax output (set by :func:`get_cost`): its value
    exists only together with the softmax, in :meth:`forward_value`."""

    def forward_value(
        self, xp: ModuleType, output: Activation, Z: Array, Y: Array
    ) -> tuple[Array, Array]:
        # One row maximum and one row sum serve both the softmax and the log-sum-exp.
        shifted = Z - xp.max(Z, axis=1, keepdims=True)
        A = xp.exp(shifted)
        S = xp.sum(A, axis=1, keepdims=True)
        A /= S
        shifted -= xp.log(S)  # log-softmax, finite even where A underflows to 0
        return A, -xp.sum(Y * shifted) / float(Z.shape[0])


class _SigmoidCrossEntropy(_CrossEntropy):
    """Cross-entropy specialised for sigmoid outputs (set by :func:`get_cost`)."""

    def value(self, xp: ModuleType, Z: Array, A: Array, Y: Array) -> Array:
        softplus = xp.maximum(Z, 0.0) + xp.log1p(xp.exp(-xp.abs(Z)))
        return xp.sum(softplus - Y * Z) / float(Z.shape[0])


COSTS = ("quadratic", "cross_entropy")
_ALIASES = {
    "mse": "quadratic",
    "crossentropy": "cross_entropy",
    "cross-entropy": "cross_entropy",
    "ce": "cross_entropy",
}


def get_cost(name: str | Cost, output: Activation) -> Cost:
    """The cost ``name`` bound to the output activation ``output``.

    Parameters
    ----------
    name : {"quadratic", "cross_entropy"}
    output : Activation
        The output layer's activation; cross-entropy requires softmax or sigmoid.

    Raises
    ------
    ValueError
        Unknown cost, or cross-entropy with an output it cannot be fused with.
    """
    if isinstance(name, Cost):
        name = name.name
    if not isinstance(name, str):
        raise TypeError(f"cost must be a string, not {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key == "quadratic":
        return _Quadratic("quadratic")
    if key == "cross_entropy":
        _CrossEntropy("cross_entropy").check_output(output)
        if output.name == "softmax":
            return _SoftmaxCrossEntropy("cross_entropy")
        return _SigmoidCrossEntropy("cross_entropy")
    raise ValueError(f"unknown cost {name!r}; choose one of {', '.join(COSTS)}")
