"""What the classifier and the regressor share: input checks, the backend, the training run.

scikit-learn is imported here, so this module is only imported when an estimator is asked
for (see :mod:`anyarray_nn.estimators`).  The features stay in the namespace and on the
device they came in (with ``array_api_dispatch`` on) or go to the chosen ``backend``; the
training itself is :func:`anyarray_nn.training.train` on float features.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..backend import Backend, resolve_backend, to_numpy
from ..data.feature_batches import to_backend
from ..nn.network import Network
from ..nn.optimizers import get_optimizer
from ..training import DEFAULT_LEARNING_RATES, History, TrainingConfig, train
from ..training.standardize import feature_statistics

Array = Any


class NetworkEstimator(BaseEstimator):
    """Base of :class:`NetworkClassifier` and :class:`NetworkRegressor` (not public)."""

    _output = "softmax"

    # Set by the subclasses' __init__ (scikit-learn reads the parameters from there).
    hidden_layer_sizes: Any
    activation: str
    cost: str
    optimizer: str
    learning_rate: float | None
    schedule: str
    batch_size: int
    epochs: int
    weight_decay: float
    early_stopping: bool
    validation_fraction: float
    patience: int
    standardize: bool
    backend: Any
    device: Any
    dtype: str
    random_state: Any
    verbose: bool

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ inputs
    def _check_X(self, X: Any, *, reset: bool) -> Any:
        """Validated features in their own namespace, not yet moved."""
        return validate_data(self, X, reset=reset, dtype="numeric")

    def _check_Xy(self, X: Any, y: Any, *, reset: bool, **kwargs: Any) -> tuple[Any, Any]:
        """Validated features and targets (``y=None`` is an error: fitting needs targets)."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        return validate_data(self, X, y, reset=reset, dtype="numeric", **kwargs)

    def _backend_for(self, X: Any) -> Backend:
        """``backend``/``device`` when given; else the input's namespace and device under
        ``array_api_dispatch``; else NumPy."""
        if self.backend is not None:
            return resolve_backend(self.backend, self.device)
        dispatch = sklearn.get_config().get("array_api_dispatch", False)
        if dispatch and not isinstance(X, np.ndarray) and array_api_compat.is_array_api_obj(X):
            xp = array_api_compat.array_namespace(X)
            return resolve_backend(xp, array_api_compat.device(X))
        return resolve_backend("numpy", self.device)

    def _features(self, X: Any) -> Array:
        """``X`` on the network's device and dtype, standardised with the training statistics."""
        net = self.network_
        Xd = to_backend(X, net.backend, net.dtype_name)
        if self.mean_ is not None:
            Xd = (Xd - self.mean_) / self.scale_
        return Xd

    def _fit_scaler(self, Xd: Array) -> None:
        """Mean and standard deviation of the training rows (constant columns: scale 1)."""
        self.mean_, self.scale_ = None, None
        if self.standardize:
            self.mean_, self.scale_ = feature_statistics(self.network_.xp, Xd)

    # ------------------------------------------------------------------ training
    def _new_network(self, backend: Backend, n_in: int, n_out: int, seed: int) -> Network:
        hidden = self.hidden_layer_sizes
        hidden = [int(hidden)] if np.isscalar(hidden) else [int(h) for h in hidden]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive, got {self.hidden_layer_sizes}")
        return Network(
            [n_in, *hidden, n_out],
            activation=self.activation,
            output=self._output,
            cost=self.cost,
            dtype=self.dtype,
            backend=backend,
            seed=seed,
        )

    def _start(self, X: Any, n_out: int) -> Array:
        """A fresh network, optimiser and scaler for ``X``; returns ``X`` on the device."""
        backend = self._backend_for(X)
        self._seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self.network_ = self._new_network(backend, int(X.shape[1]), n_out, self._seed)
        rate = self.learning_rate
        rate = DEFAULT_LEARNING_RATES[self.optimizer] if rate is None else float(rate)
        self._rate = rate
        self._optimizer = get_optimizer(self.optimizer, rate)
        self.history_ = History()
        self.n_iter_ = 0
        Xd = to_backend(X, backend, self.network_.dtype_name)
        self._fit_scaler(Xd)
        return Xd

    def _config(self, epochs: int, n: int, patience: bool, seed: int) -> TrainingConfig:
        return TrainingConfig(
            epochs=epochs,
            batch_size=min(int(self.batch_size), max(n, 1)),
            optimizer=self._optimizer.name,
            learning_rate=self._optimizer.learning_rate,
            schedule=self.schedule if epochs > 1 else "constant",
            weight_decay=self.weight_decay,
            patience=int(self.patience) if patience else None,
            seed=seed,
        )

    def _run(self, Xd: Array, targets: Any, epochs: int, *, validate: bool) -> None:
        """Train ``network_`` on device features ``Xd`` and host ``targets`` for ``epochs``."""
        net = self.network_
        if self.mean_ is not None:
            Xd = (Xd - self.mean_) / self.scale_
        n = int(Xd.shape[0])
        seed = self._seed + self.n_iter_
        validation = None
        n_val = round(float(self.validation_fraction) * n) if validate else 0
        if validate and 1 <= n_val < n:
            perm = np.random.default_rng(seed).permutation(n)
            tr, va = (to_backend(p, net.backend, None) for p in (perm[n_val:], perm[:n_val]))
            xp = net.xp
            validation = (xp.take(Xd, va, axis=0), targets[perm[:n_val]])
            Xd, targets = xp.take(Xd, tr, axis=0), targets[perm[n_val:]]
        config = self._config(epochs, int(Xd.shape[0]), validation is not None, seed)
        history = train(
            net,
            Xd,
            targets,
            validation=validation,
            config=config,
            optimizer=self._optimizer,
            progress=bool(self.verbose),
            diagnostics=False,
        )
        self.history_.records.extend(history.records)
        self.history_.best_epoch = history.best_epoch
        self.n_iter_ += len(history.records)
        self.loss_ = history.records[-1].train_cost if history.records else float("nan")

    def _outputs(self, X: Any) -> Array:
        """The network's outputs for ``X`` (validated), on the network's device."""
        check_is_fitted(self, "network_")
        X = self._check_X(X, reset=False)
        self._check_namespace(X)
        return self.network_.predict_proba(self._features(X))

    def _check_namespace(self, X: Any) -> None:
        """Under ``array_api_dispatch``, an input of another library than ``fit``'s is an
        error (as in scikit-learn), unless ``backend`` was given explicitly."""
        if self.backend is not None or not sklearn.get_config().get("array_api_dispatch"):
            return
        xp = array_api_compat.array_namespace(X)
        if xp != self.network_.xp:
            raise ValueError(
                f"{type(self).__name__} was fitted on {self.network_.backend.name} arrays but "
                f"got {getattr(xp, '__name__', xp)} arrays: convert them first, or pass "
                "backend=... to compute on one backend whatever the input"
            )

    def _returned(self, values: np.ndarray, like: Any) -> Any:
        """Host results as the caller's kind of array: NumPy in, NumPy out."""
        if isinstance(like, np.ndarray) or not array_api_compat.is_array_api_obj(like):
            return values
        if values.dtype.kind not in "biuf":
            return values
        xp = array_api_compat.array_namespace(like)
        return xp.asarray(values, device=array_api_compat.device(like))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """Plain values only: the network as its configuration and host weights."""
        state = dict(self.__dict__)
        net = state.pop("network_", None)
        state.pop("_optimizer", None)  # partial_fit after unpickling restarts the optimiser
        if net is not None:
            state["_network_state"] = (net.config(), net.get_weights(), net.xp.__name__)
            for name in ("mean_", "scale_"):
                if state.get(name) is not None:
                    state[name] = to_numpy(state[name]).copy()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop("_network_state", None)
        self.__dict__.update(state)
        if saved is not None:
            config, (weights, biases), module = saved
            backend = resolve_backend(importlib.import_module(module))
            self.network_ = Network.from_config(config, backend)
            self.network_.set_weights(weights, biases)
            for name in ("mean_", "scale_"):
                if getattr(self, name, None) is not None:
                    setattr(self, name, to_backend(getattr(self, name), backend, config["dtype"]))
            self._optimizer = get_optimizer(self.optimizer, self._rate)
