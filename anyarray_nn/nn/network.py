"""The fully-connected network: the one owner of its parameters, and its public API.

A :class:`Network` holds the weights and biases of every layer, checks what comes in at its
public methods (:mod:`anyarray_nn.nn.checks`) and calls the essay's equations, written once
in :mod:`anyarray_nn.nn.propagation`, for the forward pass and back-propagation. Whatever
replaces its parameters goes through its methods, and what it hands out or takes in is
copied: a kept :meth:`Network.get_weights` result never moves as training goes on.

Written once against the Array API standard: ``xp`` comes from :mod:`anyarray_nn.backend`,
every array is created with ``device=`` and ``dtype=``, and nothing here knows the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ..backend import Backend, from_numpy, host_rng, resolve_backend, resolve_dtype, to_numpy
from . import checks, propagation
from .activations import Activation, get_activation
from .costs import Cost, get_cost
from .gradients import Gradients
from .initializers import init_layer
from .optimizers import Optimizer

Array = Any

__all__ = ["Gradients", "Network"]


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
    backend : {"numpy", "cupy", "torch", "jax", "array_api_strict"}, module or Backend
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
        self.sizes = checks.check_sizes(sizes)
        self.hidden_activation: Activation = get_activation(activation, output=False)
        self.output_activation: Activation = get_activation(output, output=True)
        self.cost_function: Cost = get_cost(cost, self.output_activation)
        self.init, self.bias_init = checks.check_init(init, bias_init)
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

    # --- moving data and parameters (copies in, copies out) ---------------------------

    def asarray(self, X: Any) -> Array:
        """Copy host data (NumPy, lists) or an array of another backend to this network's
        namespace, device and dtype.

        Integer images are *not* rescaled: divide uint8 pixels by 255 first, or use
        :class:`anyarray_nn.data.BatchIterator`.
        """
        host = X if checks.is_host_data(X) else to_numpy(X)
        return from_numpy(host, self.backend, self.dtype_name)

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
        checks.check_shapes(self.sizes, parameters[:n], parameters[n:])
        copies = [self.xp.asarray(p, dtype=self.dtype, copy=True) for p in parameters]
        self.weights, self.biases = copies[:n], copies[n:]

    def get_weights(self) -> tuple[list[Any], list[Any]]:
        """Host (NumPy) copies of the weights and biases, which later training leaves alone.

        Returns
        -------
        (list of numpy.ndarray, list of numpy.ndarray)
            ``W[l]`` of shape (sizes[l+1], sizes[l]) and ``b[l]`` of shape (sizes[l+1],).
        """
        # ``to_numpy`` may hand back the live array (NumPy) or a view of it: copy.
        return [to_numpy(W).copy() for W in self.weights], [to_numpy(b).copy() for b in self.biases]

    def set_weights(self, weights: Sequence[Any], biases: Sequence[Any]) -> None:
        """Replace the parameters with copies of host arrays of the right shapes.

        Parameters
        ----------
        weights : sequence of arrays
            ``weights[l]`` of shape (sizes[l+1], sizes[l]), NumPy or any backend's.
        biases : sequence of arrays
            ``biases[l]`` of shape (sizes[l+1],).

        Raises
        ------
        ValueError
            If a shape does not match the architecture.
        """
        checks.check_shapes(self.sizes, weights, biases)
        parameters = [*weights, *biases]
        # Copied on the host first: on NumPy, ``from_numpy`` would keep the caller's array.
        new = [from_numpy(to_numpy(a).copy(), self.backend, self.dtype_name) for a in parameters]
        self.weights, self.biases = new[: self.n_layers], new[self.n_layers :]

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
        """A copy of this network on another backend/device, sharing no array with it."""
        clone = Network.from_config(self.config(), backend, device)
        clone.set_weights(*self.get_weights())
        return clone

    # --- checks at the public boundary (the rules live in :mod:`.checks`) --------------

    def check_input(self, X: Any, name: str = "X") -> None:
        """Raise a clear error unless ``X`` is a (batch, sizes[0]) array of this network's
        namespace, device and dtype.

        Raises
        ------
        TypeError, ValueError
            The message says how to convert the input (``network.asarray``).
        """
        checks.check_input(self, X, name)

    def check_targets(self, X: Array, Y: Any) -> Array:
        """Validated targets for the batch ``X``: integer labels (m,) become one-hot rows
        (m, sizes[-1]); float targets must already have that shape and the network's dtype.

        Raises
        ------
        TypeError, ValueError
            Targets of another backend, dtype or shape.
        """
        if not checks.check_targets(self, X, Y):
            return Y
        if self._eye is None:
            self._eye = self.xp.eye(self.sizes[-1], dtype=self.dtype, device=self.device)
        # Row y of the identity is the one-hot target of label y (one call per batch).
        return self.xp.take(self._eye, Y, axis=0)

    # --- the math (:mod:`.propagation`) ------------------------------------------------

    def forward_with_cost(self, X: Array, Y: Array) -> tuple[list[Array], list[Array], Array]:
        """``Zs``, ``As`` and the mean batch cost (a 0-d array), without the L2 term, for a
        checked batch ``X`` (m, sizes[0]) and targets ``Y`` (m, sizes[-1])."""
        return propagation.forward_with_cost(self, X, Y)

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
        return propagation.backprop(self, X, Y, weight_decay)

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
        return propagation.feedforward(self, X)[1][-1]

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
            return propagation.feedforward(self, X)[1][-1]
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        parts = [
            propagation.feedforward(self, X[i : min(i + batch_size, n), :])[1][-1]
            for i in range(0, n, batch_size)
        ]
        return self.xp.concat(parts, axis=0)

    def predict(self, X: Array, batch_size: int | None = 4096) -> Array:
        """Predicted class labels (index of the largest output), shape (n,), integer."""
        return self.xp.argmax(self.predict_proba(X, batch_size), axis=1)

    def cost(self, X: Array, Y: Array, weight_decay: float = 0.0) -> Array:
        """Mean cost of a batch plus the [L2] term ``(weight_decay / 2) sum ||W||^2``.

        Returns a 0-d array on the device (call ``float()`` on it to read it).
        """
        self.check_input(X)
        Y = self.check_targets(X, Y)
        value = self.forward_with_cost(X, Y)[2]
        weight_decay = float(weight_decay)
        return value + propagation.l2_term(self, weight_decay) if weight_decay else value

    def gradients(self, X: Array, Y: Array, weight_decay: float = 0.0) -> Gradients:
        """Back-propagate one mini-batch: [output error], (13) and (12) of the essay.

        Parameters
        ----------
        X : array, shape (m, sizes[0])
        Y : array, shape (m, sizes[-1]) targets, or integer labels of shape (m,)
            Labels must lie in ``[0, sizes[-1])``; unchecked here on the device (a host round
            trip per batch; ``-1`` would index the last row). Host labels are checked where
            they enter: ``train``, the batch iterators and the estimators refuse them.
        weight_decay : float
            L2 coefficient ``lambda``: the regularised cost ([L2]) is
            ``C + (lambda / 2) sum ||W||^2``, so ``dW += lambda W``. It is per step and not
            divided by the batch or training set size (Nielsen's ``lambda / n`` is this
            ``weight_decay``). Biases are not decayed.

        Returns
        -------
        Gradients
        """
        self.check_input(X)
        Y = self.check_targets(X, Y)
        return self.backprop(X, Y, checks.check_decay(weight_decay))

    def train_step(
        self, X: Array, Y: Array, optimizer: Optimizer, weight_decay: float = 0.0
    ) -> Gradients:
        """One gradient step on a mini-batch (:meth:`gradients`, then :meth:`apply_gradients`).

        Returns the :class:`Gradients` of the step (with the batch cost still on the device;
        nothing is read back to the host).
        """
        grads = self.gradients(X, Y, weight_decay)
        self.apply_gradients(optimizer, grads)
        return grads

    def apply_gradients(self, optimizer: Optimizer, grads: Gradients) -> None:
        """One optimiser step from ``grads``; the network stores the new parameters.

        The optimiser updates in place where the arrays are writeable and returns new arrays
        where they are not (JAX): either way the parameters it returns are the network's.
        """
        new = optimizer.step(self.xp, self.parameters, [*grads.dW, *grads.db])
        self.weights, self.biases = new[: self.n_layers], new[self.n_layers :]
