"""The essay's equations for a whole mini-batch: forward pass, back-propagation, gradients.

Notation (``docs/math.md``): a mini-batch of ``m`` samples is a matrix ``X`` of shape
(m, n_0), one sample per row; layer ``l`` (1 to L) has weights ``W^l`` of shape
(n_l, n_{l-1}), stored in ``weights[l - 1]``, and biases ``b^l`` (n_l,).

Numbers in parentheses are the essay's equations; labels in brackets name the ones the
essay does not number:

* (10) forward: ``A^l = phi(A^{l-1} W^l^T + b^l)``, ``A^0 = X``, keeping
  ``Z^l = A^{l-1} W^l^T + b^l``;
* [output error]: ``delta^L`` from the cost (:mod:`anyarray_nn.nn.costs`);
* (13) errors: ``delta^l = (delta^{l+1} W^{l+1}) ⊙ phi'(Z^l)``;
* (12) gradients: ``dW^l = (1/m) delta^l^T A^{l-1}``, ``db^l = (1/m) delta^l^T 1_m``;
* [L2]: ``dW^l += lambda W^l``, the gradient of ``(lambda / 2) sum_l ||W^l||^2``;
* [dropout], training only, with masks ``M^l`` (:mod:`anyarray_nn.nn.dropout`): the hidden
  ``A^l`` becomes ``A^l ⊙ M^l`` and (13) gains the same factor.

Concordance with the essay, said once: the code writes (12) transposed, so that ``dW^l``
has the shape (n_l, n_{l-1}) of ``W^l`` (PyTorch's layout); and the essay's (13) writes
``W^l`` for the weights that *follow* layer ``l``, which is ``W^{l+1}`` above and
``weights[l]`` in the 0-based list.

The functions read the network's public attributes (``xp``, ``weights``, ``biases``, the
activations and the cost) and never write to them; the
:class:`~anyarray_nn.nn.network.Network` checks inputs and owns the parameters. Speed
tricks sit in the named helpers at the bottom, beside the equations they compute.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .gradients import Gradients

if TYPE_CHECKING:
    from .network import Network

Array = Any

__all__ = ["backprop", "feedforward", "forward_with_cost", "l2_term"]


def feedforward(
    net: Network, X: Array, output: bool = True, masks: Sequence[Array] | None = None
) -> tuple[list[Array], list[Array]]:
    """``Zs`` (every ``Z^l``) and ``As`` (``X`` then every ``A^l``) for the batch ``X``.

    ``output=False`` leaves ``A^L`` to the caller (the cost computes it fused).  ``masks``:
    one [dropout] mask ``(m, n_l)`` per hidden layer (training only); ``As`` then holds the
    masked activations.
    """
    xp, last = net.xp, net.n_layers - 1
    Zs: list[Array] = []
    As: list[Array] = [X]
    A = X
    for l, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        Z = _affine(A, W, b)  # (10), inside phi: Z^l = A^{l-1} W^l^T + b^l
        Zs.append(Z)
        if l < last:
            A = net.hidden_activation.forward(xp, Z)  # (10): A^l = phi(Z^l)
            if masks is not None:
                A = A * masks[l]  # [dropout]
            As.append(A)
        elif output:
            As.append(net.output_activation.forward(xp, Z))  # (10) for the output layer
    return Zs, As


def forward_with_cost(
    net: Network, X: Array, Y: Array, masks: Sequence[Array] | None = None
) -> tuple[list[Array], list[Array], Array]:
    """``Zs``, ``As`` and the mean batch cost ([mean cost]), without the L2 term.

    The output activation and the cost come together from the cost function: softmax and
    cross-entropy share the row maximum and the log-sum-exp.
    """
    Zs, As = feedforward(net, X, output=False, masks=masks)
    A_out, cost = net.cost_function.forward_value(net.xp, net.output_activation, Zs[-1], Y)
    As.append(A_out)
    return Zs, As, cost


def backprop(
    net: Network, X: Array, Y: Array, weight_decay: float, masks: Sequence[Array] | None = None
) -> Gradients:
    """The gradients of one checked mini-batch: (10), [output error], (13), (12), [L2].

    Parameters
    ----------
    net : Network
    X : array, shape (m, sizes[0])
    Y : array, shape (m, sizes[-1])
        One-hot or real targets.
    weight_decay : float
        L2 coefficient ``lambda`` (a Python float >= 0).
    masks : sequence of arrays, optional
        [dropout]: one mask ``(m, n_l)`` per hidden layer, values 0 or ``1 / keep``.

    Returns
    -------
    Gradients
    """
    xp, phi, cost_function = net.xp, net.hidden_activation, net.cost_function
    # Forward pass (10), keeping every Z^l and A^l.
    Zs, As, cost = forward_with_cost(net, X, Y, masks)
    # Backward pass. Index l counts weight layers from 0: ``delta`` is the error of
    # layer l + 1, ``As[l]`` is A^l and ``weights[l]`` is W^{l+1} (module docstring).
    delta = cost_function.output_delta(xp, net.output_activation, Zs[-1], As[-1], Y)
    deltas, dW, db = [], [], []
    for l in reversed(range(net.n_layers)):
        deltas.append(delta)
        dW_l, db_l = _layer_gradients(xp, delta, As[l])  # (12), transposed
        if weight_decay:
            dW_l += weight_decay * net.weights[l]  # [L2]
        dW.append(dW_l)
        db.append(db_l)
        if l > 0 and masks is None:
            delta = phi.backward(xp, Zs[l - 1], As[l], delta @ net.weights[l])  # (13)
        elif l > 0:  # [dropout]: (13) times the mask; phi' from the unmasked phi(Z)
            upstream = (delta @ net.weights[l]) * masks[l - 1]
            delta = phi.backward(xp, Zs[l - 1], phi.forward(xp, Zs[l - 1]), upstream)
    return Gradients(dW[::-1], db[::-1], deltas[::-1], activations=As, cost=cost)


def l2_term(net: Network, weight_decay: float) -> Array:
    """[L2]: ``(lambda / 2) sum_l ||W^l||^2``, a 0-d array on the network's device."""
    xp = net.xp
    total = xp.zeros((), dtype=net.dtype, device=net.device)
    for W in net.weights:
        total = total + xp.sum(W * W)
    return (0.5 * weight_decay) * total


def _affine(A: Array, W: Array, b: Array) -> Array:
    """``A W^T + b``, shape (m, n_out).

    The product is a fresh array, so the bias goes in in place (one array fewer per layer
    and step); where arrays are immutable, ``+=`` rebinds the local name, just as correct.
    """
    Z = A @ W.T
    Z += b
    return Z


#: Element count below which call overhead, not memory traffic, decides where 1/m goes.
_SMALL = 1 << 16


def _layer_gradients(xp: ModuleType, delta: Array, A_prev: Array) -> tuple[Array, Array]:
    """(12) for one layer: ``dW = (1/m) delta^T A_prev`` and ``db = (1/m) delta^T 1_m``.

    Parameters
    ----------
    xp : module
    delta : array, shape (m, n_out)
        The layer's error.
    A_prev : array, shape (m, n_in)
        The activations feeding the layer.

    Returns
    -------
    (array of shape (n_out, n_in), array of shape (n_out,))

    Notes
    -----
    The 1/m goes on the (m, n_out) error when that has no more elements than ``dW``
    (``m <= n_in``) or so few that call overhead decides (two calls); otherwise on ``dW``
    and ``db``, in place on the fresh results (three calls, fewer elements).
    """
    m, n_in = A_prev.shape
    inv_m = 1.0 / m
    if m <= n_in or m * delta.shape[1] <= _SMALL:
        scaled = delta * inv_m
        return scaled.T @ A_prev, xp.sum(scaled, axis=0)
    dW = delta.T @ A_prev
    dW *= inv_m
    db = xp.sum(delta, axis=0)
    db *= inv_m
    return dW, db
