""":class:`NetworkClassifier`: the network as a scikit-learn classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..backend import to_numpy
from ..data.feature_batches import to_backend
from ._base import NetworkEstimator

__all__ = ["NetworkClassifier"]


class NetworkClassifier(ClassifierMixin, NetworkEstimator):
    """A fully-connected network classifier (softmax output) in the scikit-learn style.

    Trained by :func:`anyarray_nn.training.train` on float features used as given (scale
    them, e.g. with ``standardize=True`` or a ``StandardScaler`` in a ``Pipeline``).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (64,)
        Units of each hidden layer; the input and output sizes come from the data.
    activation : {"relu", "sigmoid", "tanh", "identity"}, default "relu"
    cost : {"cross_entropy", "quadratic"}, default "cross_entropy"
    optimizer : {"sgd", "momentum", "adam"}, default "adam"
    learning_rate : float, optional
        Default: :data:`anyarray_nn.training.DEFAULT_LEARNING_RATES` of the optimiser.
    schedule : {"constant", "step", "cosine"}, default "constant"
    batch_size : int, default 128
        Capped at the number of samples.
    epochs : int, default 50
        Passes over the data in :meth:`fit` (:meth:`partial_fit` runs one).
    weight_decay : float, default 0.0
        L2 coefficient ``lambda``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data; stop after ``patience``
        epochs without a better validation accuracy and keep the best epoch's weights.
    validation_fraction : float, default 0.1
    patience : int, default 10
    standardize : bool, default False
        Standardise each feature with the mean and standard deviation of the training data.
    backend : {"numpy", "cupy", "array_api_strict"} or namespace, optional
        Where to compute; by default the input's own namespace and device when
        scikit-learn's ``array_api_dispatch`` is on, else NumPy.
    device : optional
        Device within ``backend``.
    dtype : {"float32", "float64"}, default "float32"
    random_state : int, numpy.random.RandomState or None
        Seeds the initial weights and the batch order.
    verbose : bool, default False
        Show a progress bar.

    Attributes
    ----------
    classes_ : numpy.ndarray, shape (n_classes,)
        The label values, sorted; outputs are in this order.
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        When ``X`` has column names (a pandas DataFrame).
    network_ : anyarray_nn.Network
    history_ : anyarray_nn.training.History
        Every epoch's record, across :meth:`partial_fit` calls.
    n_iter_ : int
        Epochs run.
    loss_ : float
        Training cost of the last epoch.
    mean_, scale_ : array of shape (n_features,) or None
        The standardisation (``standardize=True``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from anyarray_nn.estimators import NetworkClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NetworkClassifier(learning_rate=0.01, standardize=True, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (64,),
        *,
        activation: str = "relu",
        cost: str = "cross_entropy",
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
        self.cost = cost
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

    def _labels(self, X: Any, y: Any, reset: bool) -> tuple[Any, np.ndarray]:
        X, y = self._check_Xy(X, y, reset=reset)
        y = column_or_1d(to_numpy(y), warn=True)
        check_classification_targets(y)
        return X, y

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Indices into ``classes_`` of the labels ``y`` (ValueError for unknown ones)."""
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            raise ValueError(
                f"y holds labels not in classes_ {self.classes_.tolist()}: "
                f"{np.unique(y[unknown]).tolist()[:5]}; pass every class to the first "
                "partial_fit call (classes=...)"
            )
        return idx.astype(np.int64)

    def fit(self, X: Any, y: Any) -> NetworkClassifier:
        """Train a new network on ``X`` (n, d) and labels ``y`` (n,) for ``epochs`` epochs.

        Returns
        -------
        self
        """
        X, y = self._labels(X, y, reset=True)
        self.classes_ = np.unique(y)
        Xd = self._start(X, len(self.classes_))
        self._run(Xd, self._encode(y), int(self.epochs), validate=bool(self.early_stopping))
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> NetworkClassifier:
        """One epoch over ``X``, ``y``; the first call builds the network.

        Parameters
        ----------
        classes : array-like, optional
            Every label value; needed on the first call unless ``y`` holds them all.

        Returns
        -------
        self
        """
        first = not hasattr(self, "network_")
        X, y = self._labels(X, y, reset=first)
        if first:
            self.classes_ = np.unique(y if classes is None else to_numpy(classes))
            Xd = self._start(X, len(self.classes_))
        else:
            net = self.network_
            Xd = to_backend(X, net.backend, net.dtype_name)
        self._run(Xd, self._encode(y), 1, validate=False)
        return self

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n, n_classes), columns in the order of ``classes_``."""
        P = self._outputs(X)
        if not isinstance(X, np.ndarray) and self.network_.backend.name != "numpy":
            return P
        P = to_numpy(P).astype(np.float64)
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> Any:
        """Predicted labels (values of ``classes_``), shape (n,)."""
        check_is_fitted(self, "network_")
        P = self._outputs(X)
        idx = to_numpy(self.network_.xp.argmax(P, axis=1))
        return self._returned(self.classes_[idx], X)
