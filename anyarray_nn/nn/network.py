"""The fully-connected network: batch forward pass and matrix back-propagation.

Notation (``docs/math.md``): a mini-batch of ``m`` samples is a matrix ``X`` of shape
(m, n_0); layer ``l`` has weights ``W^l`` of shape (n_l, n_{l-1}) and biases ``b^l`` (n_l,).

* forward (eq. 1, 2):  ``Z^l = A^{l-1} W^l^T + b^l``,  ``A^l = phi(Z^l)``,  ``A^0 = X``;
* output error (eq. 6, 7): ``delta^L`` from the cost;
* back-propagation (eq. 8): ``delta^l = (delta^{l+1} W^{l+1}) ⊙ phi'(Z^l)``;
* gradients (eq. 9): ``dW^l = (1/m) delta^l^T A^{l-1}``,  ``db^l = mean over the batch of delta^l``.

The code is written once against the Python Array API standard: the namespace ``xp`` comes
from :mod:`anyarray_nn.backend`, every array is created with ``device=`` and ``dtype=``, and
nothing here knows whether it runs on NumPy, CuPy or ``array_api_strict``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import array_api_compat

from ..backend import Backend, from_numpy, host_rng, resolve_backend, resolve_dtype, to_numpy
from .activations import Activation, get_activation
from .costs import Cost, get_cost
from .initializers import BIAS_INITS, INITS, bias_default, init_layer
from .optimizers import Optimizer

Array = Any

__all__ = ["Gradients", "Network"]


@dataclass
class Gradients:
    """What one back-propagation pass produces.

    Attributes
    ----------
    dW : list of arrays
        ``dW[l]`` has the shape of ``weights[l]``, (n_{l+1}, n_l) (eq. 9), L2 term included.
    db : list of arrays
        ``db[l]`` has the shape of ``biases[l]``, (n_{l+1},).
    deltas : list of arrays
        ``deltas[l]`` is the error of layer ``l + 1``, (m, n_{l+1}) (eq. 6 to 8).
    activations : list of arrays
        ``activations[0]`` is ``X``; ``activations[l]`` is ``A^l``, (m, n_l).
    cost : 0-d array
        The mean cost of the batch (without the L2 term), still on the device.
    """

    dW: list[Array]
    db: list[Array]
    deltas: list[Array] = field(repr=False)
    activations: list[Array] = field(repr=False)
    cost: Array = field(repr=False)


class Network:
    """A fully-connected feed-forward network trained by mini-batch back-propagation.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, input first: ``[784, 64, 10]`` is the paper's network.
    activation : {"relu", "sigmoid", "tanh", "identity"}
        Activation ``phi`` of the hidden layers.
    output : {"softmax", "sigmoid", "identity"}
        Activation of the output layer.
    cost : {"cross_entropy", "quadratic"}
        Cost function. Cross-entropy is fused with a softmax or sigmoid output (``delta^L =
        A^L - Y``); the quadratic cost is the paper's.
    init : {"he", "lecun", "glorot", "normal"}
        Weight initialisation (see :mod:`anyarray_nn.nn.initializers`); ``"normal"`` (std 1) is
        the paper's first attempt, ``"lecun"`` (std ``n_in^-1/2``) its fix.
    bias_init : {"normal", "zeros"}, optional
        Bias initialisation; by default N(0, 1) for ``normal``/``lecun`` (as in the paper)
        and zeros for ``he``/``glorot``.
    dtype : {"float32", "float64"}
        Compute dtype of weights and activations.
    backend : {"numpy", "cupy", "array_api_strict"}, module or Backend
        Where the arrays live (see :func:`anyarray_nn.backend.resolve_backend`).
    device : optional
        Device within the backend (e.g. ``"device1"`` for ``array_api_strict``, an int for
        CuPy).
    seed : int or numpy.random.Generator, optional
        Seed of the host generator that draws the initial weights; the same seed gives
        bit-identical initial weights on every backend.

    Attributes
    ----------
    weights : list of arrays
        ``weights[l]`` of shape (sizes[l+1], sizes[l]).
    biases : list of arrays
        ``biases[l]`` of shape (sizes[l+1],).
    xp : module
        The array namespace.
    device : object
        The device the arrays live on.

    Examples
    --------
    >>> import numpy as np
    >>> from anyarray_nn import Network
    >>> net = Network([4, 8, 3], seed=0)
    >>> X = net.asarray(np.ones((5, 4)))
    >>> net.predict_proba(X).shape
    (5, 3)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "relu",
        output: str = "softmax",
        cost: str = "cross_entropy",
        init: str = "he",
        bias_init: str | None = None,
        dtype: str = "float32",
        backend: str | ModuleType | Backend = "numpy",
        device: Any = None,
        seed: int | Any = None,
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.hidden_activation: Activation = get_activation(activation, output=False)
        self.output_activation: Activation = get_activation(output, output=True)
        self.cost_function: Cost = get_cost(cost, self.output_activation)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.init = init
        self.bias_init = bias_default(init) if bias_init is None else bias_init
        if self.bias_init not in BIAS_INITS:
            raise ValueError(
                f"unknown bias_init {bias_init!r}; choose one of {', '.join(BIAS_INITS)}"
            )
        self.backend = resolve_backend(backend, device)
        self.xp = self.backend.xp
        self.device = self.backend.device
        self.dtype = resolve_dtype(self.xp, dtype)
        self.dtype_name = "float64" if self.dtype == self.xp.float64 else "float32"
        rng = host_rng(seed)
        self.weights: list[Array] = []
        self.biases: list[Array] = []
        self._eye: Array | None = None  # identity rows for one-hot targets, made on first use
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            W, b = init_layer(rng, n_in, n_out, self.init, self.bias_init, self.dtype_name)
            self.weights.append(from_numpy(W, self.backend))
            self.biases.append(from_numpy(b, self.backend))

    # --- description ------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """Number of weight layers (``len(sizes) - 1``)."""
        return len(self.sizes) - 1

    @property
    def parameters(self) -> list[Array]:
        """Weights then biases, the order optimisers and checkpoints use."""
        return [*self.weights, *self.biases]

    def config(self) -> dict[str, Any]:
        """The architecture as JSON-ready values (enough to rebuild the network)."""
        return {
            "sizes": list(self.sizes),
            "activation": self.hidden_activation.name,
            "output": self.output_activation.name,
            "cost": self.cost_function.name,
            "init": self.init,
            "bias_init": self.bias_init,
            "dtype": self.dtype_name,
        }

    def __repr__(self) -> str:
        layers = "-".join(str(n) for n in self.sizes)
        return (
            f"Network({layers}, activation={self.hidden_activation.name!r}, "
            f"output={self.output_activation.name!r}, cost={self.cost_function.name!r}, "
            f"dtype={self.dtype_name!r}, backend={self.backend.name!r}, device={self.device!r})"
        )

    # --- moving data and weights ------------------------------------------------------

    def asarray(self, X: Any) -> Array:
        """Copy host data (NumPy, lists) or an array of another backend to this network's
        namespace, device and dtype.

        Integer images are *not* rescaled: divide uint8 pixels by 255 first, or use
        :class:`anyarray_nn.data.BatchIterator`.
        """
        return from_numpy(to_numpy(X) if not _is_plain(X) else X, self.backend, self.dtype_name)

    def copy_parameters(self) -> list[Array]:
        """Device copies of the parameters (weights then biases), e.g. to roll back to."""
        return [self.xp.asarray(p, copy=True) for p in self.parameters]

    def load_parameters(self, parameters: Sequence[Array]) -> None:
        """Replace the parameters (weights then biases) with copies of device arrays of this
        network's namespace, as :meth:`copy_parameters` returns them.

        Raises
        ------
        ValueError
            Wrong number of arrays or a wrong shape.
        """
        n = self.n_layers
        if len(parameters) != 2 * n:
            raise ValueError(f"expected {2 * n} parameter arrays, got {len(parameters)}")
        for p, q in zip(parameters, self.parameters, strict=True):
            if tuple(p.shape) != tuple(q.shape):
                raise ValueError(f"parameter of shape {tuple(p.shape)}, expected {q.shape}")
        copies = [self.xp.asarray(p, dtype=self.dtype, copy=True) for p in parameters]
        self.weights, self.biases = copies[:n], copies[n:]

    def get_weights(self) -> tuple[list[Any], list[Any]]:
        """Host (NumPy) copies of the weights and biases."""
        return [to_numpy(W) for W in self.weights], [to_numpy(b) for b in self.biases]

    def set_weights(self, weights: Sequence[Any], biases: Sequence[Any]) -> None:
        """Replace the parameters with host arrays of the right shapes (copied to the device).

        Raises
        ------
        ValueError
            If a shape does not match the architecture.
        """
        if len(weights) != self.n_layers or len(biases) != self.n_layers:
            raise ValueError(
                f"expected {self.n_layers} weight and bias arrays, got {len(weights)} and "
                f"{len(biases)}"
            )
        new_W, new_b = [], []
        for l, (W, b) in enumerate(zip(weights, biases, strict=True)):
            shape_W = (self.sizes[l + 1], self.sizes[l])
            shape_b = (self.sizes[l + 1],)
            if tuple(W.shape) != shape_W or tuple(b.shape) != shape_b:
                raise ValueError(
                    f"layer {l + 1}: expected W {shape_W} and b {shape_b}, got "
                    f"{tuple(W.shape)} and {tuple(b.shape)}"
                )
            new_W.append(from_numpy(to_numpy(W), self.backend, self.dtype_name))
            new_b.append(from_numpy(to_numpy(b), self.backend, self.dtype_name))
        self.weights, self.biases = new_W, new_b

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        backend: str | ModuleType | Backend = "numpy",
        device: Any = None,
        seed: int | Any = 0,
    ) -> Network:
        """A network of the architecture that :meth:`config` describes (freshly initialised).

        Raises
        ------
        KeyError
            A required entry (``sizes``, ``activation``, ...) is missing.
        ValueError, TypeError
            An entry is invalid, as for the constructor.
        """
        return cls(
            [int(n) for n in config["sizes"]],
            activation=config["activation"],
            output=config["output"],
            cost=config["cost"],
            init=config["init"],
            bias_init=config.get("bias_init"),
            dtype=config["dtype"],
            backend=backend,
            device=device,
            seed=seed,
        )

    def to(self, backend: str | ModuleType | Backend, device: Any = None) -> Network:
        """A copy of this network on another backend/device (weights copied via the host)."""
        clone = Network.from_config(self.config(), backend, device)
        clone.set_weights(*self.get_weights())
        return clone

    # --- checks at the public boundary ------------------------------------------------

    def check_input(self, X: Any, name: str = "X") -> None:
        """Raise a clear error unless ``X`` is a (batch, sizes[0]) array of this network's
        namespace, device and dtype.

        Raises
        ------
        TypeError, ValueError
            The message says how to convert the input (``network.asarray``).
        """
        try:
            xp = array_api_compat.array_namespace(X)
        except TypeError as exc:
            raise TypeError(
                f"{name} must be an array of the network's backend ({self.backend.name}), not "
                f"{type(X).__name__}; convert it with network.asarray({name})"
            ) from exc
        if xp is not self.xp:
            raise TypeError(
                f"{name} is an array of {array_api_compat.array_namespace(X).__name__}, but "
                f"the network runs on {self.backend.name}; convert it with network.asarray({name})"
            )
        if array_api_compat.device(X) != self.device:
            raise ValueError(
                f"{name} is on device {array_api_compat.device(X)!r} but the network is on "
                f"{self.device!r}; move it with network.asarray({name})"
            )
        if X.dtype != self.dtype and not self.xp.isdtype(X.dtype, "real floating"):
            raise TypeError(
                f"{name} must be floating point ({self.dtype_name}), not {X.dtype}; scale "
                f"integer pixels to [0, 1] first, e.g. network.asarray(images / 255)"
            )
        if X.dtype != self.dtype:
            raise TypeError(
                f"{name} has dtype {X.dtype} but the network computes in {self.dtype_name}; "
                f"convert with network.asarray({name}) or build the network with "
                f"dtype={str(X.dtype).rsplit('.', 1)[-1]!r}"
            )
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(
                f"{name} must have shape (batch, {self.sizes[0]}), got {tuple(X.shape)}"
                + (" (wrong input width)" if X.ndim == 2 else "")
            )

    def check_targets(self, X: Array, Y: Any) -> Array:
        """Validated targets for the batch ``X``: integer labels of shape (m,) become one-hot
        rows (m, sizes[-1]); float targets must already have that shape and the network's
        dtype.

        Raises
        ------
        TypeError, ValueError
            Targets of another backend, dtype or shape.
        """
        xp = self.xp
        try:
            if array_api_compat.array_namespace(Y) is not xp:
                raise TypeError
        except TypeError as exc:
            raise TypeError(
                f"Y must be an array of the network's backend ({self.backend.name}); "
                "convert it with network.asarray(Y)"
            ) from exc
        m, n_out = X.shape[0], self.sizes[-1]
        if Y.ndim == 1 and xp.isdtype(Y.dtype, "integral"):
            if Y.shape[0] != m:
                raise ValueError(f"Y has {Y.shape[0]} labels for {m} samples")
            if self._eye is None:
                self._eye = xp.eye(n_out, dtype=self.dtype, device=self.device)
            # Row y of the identity is the one-hot target of label y (one call per batch).
            return xp.take(self._eye, Y, axis=0)
        if Y.dtype != self.dtype:
            raise TypeError(
                f"Y has dtype {Y.dtype}; use {self.dtype_name} targets or integer labels"
            )
        if tuple(Y.shape) != (m, n_out):
            raise ValueError(f"Y must have shape ({m}, {n_out}), got {tuple(Y.shape)}")
        return Y

    # --- the math -----------------------------------------------------------------------

    def _feedforward(self, X: Array, output: bool = True) -> tuple[list[Array], list[Array]]:
        """``Zs`` and ``As`` of every layer; ``output=False`` leaves ``A^L`` to the caller."""
        xp, last = self.xp, self.n_layers - 1
        Zs: list[Array] = []
        As: list[Array] = [X]
        A = X
        for l, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            Z = A @ W.T  # eq. 1; the product is a fresh array, so the bias goes in in place
            Z += b
            Zs.append(Z)
            if l < last:
                A = self.hidden_activation.forward(xp, Z)  # eq. 2
                As.append(A)
            elif output:
                As.append(self.output_activation.forward(xp, Z))
        return Zs, As

    def forward_with_cost(self, X: Array, Y: Array) -> tuple[list[Array], list[Array], Array]:
        """``Zs``, ``As`` and the mean batch cost (eq. 3), without the L2 term.

        The output activation and the cost are computed together: softmax and cross-entropy
        share the row maximum and the log-sum-exp.
        """
        Zs, As = self._feedforward(X, output=False)
        A_out, cost = self.cost_function.forward_value(self.xp, self.output_activation, Zs[-1], Y)
        As.append(A_out)
        return Zs, As, cost

    def backprop(self, X: Array, Y: Array, weight_decay: float) -> Gradients:
        """Back-propagate one checked mini-batch (no input checks: see :meth:`gradients`).

        Parameters
        ----------
        X : array, shape (m, sizes[0])
            Inputs already checked with :meth:`check_input`.
        Y : array, shape (m, sizes[-1])
            One-hot or real targets, as :meth:`check_targets` returns them.
        weight_decay : float
            L2 coefficient (a Python float >= 0).

        Returns
        -------
        Gradients
        """
        xp = self.xp
        Zs, As, cost = self.forward_with_cost(X, Y)
        A_out = As[-1]
        m = X.shape[0]
        inv_m = 1.0 / m
        L = self.n_layers
        delta = self.cost_function.output_delta(xp, self.output_activation, Zs[-1], A_out, Y)
        deltas: list[Array] = [delta] * L
        dW: list[Array] = [delta] * L
        db: list[Array] = [delta] * L
        for l in range(L - 1, -1, -1):
            deltas[l] = delta
            # eq. 9; the 1/m goes on the (m, n_l+1) error when that is small or smaller than
            # dW (two calls), else on dW and db in place (three calls, fewer elements).
            if m <= self.sizes[l] or m * self.sizes[l + 1] <= _SMALL:
                scaled = delta * inv_m
                dW[l] = scaled.T @ As[l]
                db[l] = xp.sum(scaled, axis=0)
            else:
                dW[l] = delta.T @ As[l]
                dW[l] *= inv_m
                db[l] = xp.sum(delta, axis=0)
                db[l] *= inv_m
            if weight_decay:
                dW[l] += weight_decay * self.weights[l]  # gradient of eq. 11
            if l > 0:
                # eq. 8: delta^l = (delta^{l+1} W^{l+1}) ⊙ phi'(Z^l)
                delta = self.hidden_activation.backward(
                    xp, Zs[l - 1], As[l], delta @ self.weights[l]
                )
        return Gradients(dW=dW, db=db, deltas=deltas, activations=As, cost=cost)

    def _l2_term(self, weight_decay: float) -> Array:
        xp = self.xp
        total = xp.zeros((), dtype=self.dtype, device=self.device)
        for W in self.weights:
            total = total + xp.sum(W * W)
        return (0.5 * weight_decay) * total

    # --- public API -----------------------------------------------------------------------

    def forward(self, X: Array) -> Array:
        """Output activations ``A^L`` for a batch.

        Parameters
        ----------
        X : array, shape (m, sizes[0])
            Inputs in the network's namespace, device and dtype.

        Returns
        -------
        array, shape (m, sizes[-1])
        """
        self.check_input(X)
        return self._feedforward(X)[1][-1]

    def predict_proba(self, X: Array, batch_size: int | None = 4096) -> Array:
        """Output activations (class probabilities for a softmax output), in batches.

        Parameters
        ----------
        X : array, shape (n, sizes[0])
        batch_size : int or None
            Rows per forward pass, to bound memory; ``None`` does all at once.

        Returns
        -------
        array, shape (n, sizes[-1]), same namespace, device and dtype as ``X``.
        """
        self.check_input(X)
        n = X.shape[0]
        if batch_size is None or n <= batch_size:
            return self._feedforward(X)[1][-1]
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        parts = [
            self._feedforward(X[i : min(i + batch_size, n), :])[1][-1]
            for i in range(0, n, batch_size)
        ]
        return self.xp.concat(parts, axis=0)

    def predict(self, X: Array, batch_size: int | None = 4096) -> Array:
        """Predicted class labels (index of the largest output), shape (n,), integer."""
        return self.xp.argmax(self.predict_proba(X, batch_size), axis=1)

    def cost(self, X: Array, Y: Array, weight_decay: float = 0.0) -> Array:
        """Mean cost of a batch plus the L2 term ``(weight_decay / 2) sum ||W||^2`` (eq. 11).

        Returns a 0-d array on the device (call ``float()`` on it to read it).
        """
        self.check_input(X)
        Y = self.check_targets(X, Y)
        value = self.forward_with_cost(X, Y)[2]
        weight_decay = float(weight_decay)
        return value + self._l2_term(weight_decay) if weight_decay else value

    def gradients(self, X: Array, Y: Array, weight_decay: float = 0.0) -> Gradients:
        """Back-propagate one mini-batch (eq. 6 to 9).

        Parameters
        ----------
        X : array, shape (m, sizes[0])
        Y : array, shape (m, sizes[-1]) targets, or integer labels of shape (m,)
            Labels must lie in ``[0, sizes[-1])`` (they index rows of an identity matrix:
            NumPy and ``array_api_strict`` raise ``IndexError`` otherwise; the range is not
            checked on the device, which would cost a host round trip per batch).
        weight_decay : float
            L2 coefficient ``lambda``: the regularised cost is ``C + (lambda / 2) sum ||W||^2``,
            so ``dW += lambda W``. It is per step and not divided by the batch or training
            set size (Nielsen's ``lambda / n`` is this ``weight_decay``). Biases are not
            decayed.

        Returns
        -------
        Gradients
        """
        self.check_input(X)
        Y = self.check_targets(X, Y)
        return self.backprop(X, Y, _check_decay(weight_decay))

    def train_step(
        self, X: Array, Y: Array, optimizer: Optimizer, weight_decay: float = 0.0
    ) -> Gradients:
        """One gradient step on a mini-batch, updating the parameters in place.

        Returns the :class:`Gradients` of the step (with the batch cost still on the device;
        nothing is read back to the host).
        """
        grads = self.gradients(X, Y, weight_decay)
        self.apply_gradients(optimizer, grads)
        return grads

    def apply_gradients(self, optimizer: Optimizer, grads: Gradients) -> None:
        """One optimiser step from ``grads``; the network stores the new parameters."""
        optimizer.step(self.xp, self.parameters, [*grads.dW, *grads.db])


#: Element count below which call overhead, not memory traffic, decides (see ``backprop``).
_SMALL = 1 << 16


def _check_decay(weight_decay: float) -> float:
    weight_decay = float(weight_decay)
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, not {weight_decay!r}")
    return weight_decay


def _is_plain(X: Any) -> bool:
    """True for host data that ``numpy.asarray`` takes without a device copy."""
    return not hasattr(X, "__array_namespace__") or type(X).__module__.startswith("numpy")


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of layer sizes, not {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output layer, got {list(sizes)}")
    checked = []
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"layer size {i} must be an integer, not {n!r}")
        if n < 1:
            raise ValueError(f"layer size {i} must be at least 1, got {n}")
        checked.append(int(n))
    return tuple(checked)
