""":class:`NetworkRegressor`: the network as a scikit-learn regressor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from ..backend import to_numpy
from ..data.feature_batches import to_backend
from ._base import NetworkEstimator

__all__ = ["NetworkRegressor"]


class NetworkRegressor(RegressorMixin, NetworkEstimator):
    """A fully-connected network regressor (identity output, quadratic cost).

    The parameters and attributes are those of :class:`NetworkClassifier` without ``cost``
    (always the quadratic cost ``C = 1/(2m) sum ||A^L - y||^2``) and ``classes_``.  The
    targets are used as given: scale them (e.g. ``TransformedTargetRegressor``) when they
    are far from unit size.  ``early_stopping`` keeps the epoch with the lowest validation
    cost.

    Examples
    --------
    >>> import numpy as np
    >>> from anyarray_nn.estimators import NetworkRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1); y = 2 * X[:, 0] + 0.5
    >>> reg = NetworkRegressor(epochs=200, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.95
    True
    """

    _output = "identity"

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (64,),
        *,
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float | None = None,
        schedule: str = "constant",
        batch_size: int = 128,
        epochs: int = 50,
        weight_decay: float = 0.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        standardize: bool = False,
        backend: Any = None,
        device: Any = None,
        dtype: str = "float32",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.batch_size = batch_size
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.standardize = standardize
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @property
    def cost(self) -> str:  # type: ignore[override]
        """Always ``"quadratic"`` (with the identity output)."""
        return "quadratic"

    def _targets(self, X: Any, y: Any, reset: bool) -> tuple[Any, np.ndarray]:
        X, y = self._check_Xy(X, y, reset=reset, multi_output=True, y_numeric=True)
        y = to_numpy(y).astype(np.float64)
        if reset:
            self._y_1d = y.ndim == 1
        return X, y.reshape(y.shape[0], -1)

    def fit(self, X: Any, y: Any) -> NetworkRegressor:
        """Train a new network on ``X`` (n, d) and targets ``y`` (n,) or (n, k).

        Returns
        -------
        self
        """
        X, y = self._targets(X, y, reset=True)
        Xd = self._start(X, int(y.shape[1]))
        self._run(Xd, y, int(self.epochs), validate=bool(self.early_stopping))
        return self

    def partial_fit(self, X: Any, y: Any) -> NetworkRegressor:
        """One epoch over ``X``, ``y``; the first call builds the network.

        Returns
        -------
        self
        """
        first = not hasattr(self, "network_")
        X, y = self._targets(X, y, reset=first)
        if first:
            Xd = self._start(X, int(y.shape[1]))
        else:
            if y.shape[1] != self.network_.sizes[-1]:
                raise ValueError(f"y has {y.shape[1]} targets, the network {self.n_outputs_}")
            net = self.network_
            Xd = to_backend(X, net.backend, net.dtype_name)
        self._run(Xd, y, 1, validate=False)
        return self

    @property
    def n_outputs_(self) -> int:
        """Targets per sample."""
        return int(self.network_.sizes[-1])

    def predict(self, X: Any) -> Any:
        """Predicted targets, shape (n,) (or (n, k) when fitted on 2-d ``y``)."""
        out = self._outputs(X)
        if not isinstance(X, np.ndarray) and self.network_.backend.name != "numpy":
            xp = self.network_.xp
            return xp.reshape(out, (-1,)) if self._y_1d else out
        values = to_numpy(out).astype(np.float64)
        return values.reshape(-1) if self._y_1d else values
