"""The scikit-learn estimators: scikit-learn's own checks, model selection, array API inputs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="the estimators need scikit-learn (extra: sklearn)")

from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from anyarray_nn.backend import Backend  # noqa: E402
from anyarray_nn.estimators import NetworkClassifier, NetworkRegressor  # noqa: E402

#: Checks that cannot pass, with the reason (also listed in docs/sklearn.md).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def _expected_failed(estimator: object) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS


# Small and fast: the checks fit dozens of times on tiny data sets.
CHECKED = [
    NetworkClassifier(
        hidden_layer_sizes=(16,), epochs=60, learning_rate=0.02, dtype="float64", random_state=0
    ),
    NetworkRegressor(
        hidden_layer_sizes=(16,), epochs=60, learning_rate=0.02, dtype="float64", random_state=0
    ),
]


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed)
def test_sklearn_checks(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def test_cross_val_score_on_digits() -> None:
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(StandardScaler(), NetworkClassifier(epochs=20, random_state=0))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.mean() > 0.9, scores


def test_grid_search_in_a_pipeline() -> None:
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), NetworkClassifier(epochs=40, random_state=0))
    grid = {"networkclassifier__learning_rate": [1e-3, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_params_["networkclassifier__learning_rate"] == 1e-2
    assert search.best_score_ > 0.85


def test_string_labels_and_fitted_attributes() -> None:
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = NetworkClassifier(epochs=60, learning_rate=0.01, standardize=True, random_state=0)
    assert clf.fit(X, names) is clf
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4 and clf.network_.sizes == (4, 64, 3)
    assert len(clf.history_) == clf.n_iter_ == 60
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.9
    assert clf.predict_proba(X).shape == (150, 3)
    assert clf.mean_.shape == (4,)  # fitted on the training data only


def test_partial_fit_needs_known_classes() -> None:
    X, y = load_iris(return_X_y=True)
    clf = NetworkClassifier(random_state=0)
    for _ in range(3):
        clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.n_iter_ == 3 and list(clf.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, y + 1)


def test_early_stopping_keeps_the_best_epoch() -> None:
    X, y = load_digits(return_X_y=True)
    clf = NetworkClassifier(epochs=200, early_stopping=True, patience=2, random_state=0)
    clf.fit(X / 16.0, y)
    assert clf.n_iter_ < 200 and clf.history_.best_epoch is not None


def test_regressor_learns_a_line_and_pickles() -> None:
    X = np.linspace(-1, 1, 200).reshape(-1, 1)
    y = 2 * X[:, 0] + 0.5
    reg = NetworkRegressor(epochs=100, random_state=0, early_stopping=True, patience=5)
    assert reg.fit(X, y).score(X, y) > 0.95
    assert reg.predict(X).shape == (200,) and reg.network_.config()["output"] == "identity"
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))


#: Run in a fresh interpreter: scikit-learn's array API dispatch needs SciPy's array API
#: support, switched on by SCIPY_ARRAY_API=1 before SciPy is first imported.  argv: the
#: backend's name and device (as the test matrix names them).
DISPATCH_SCRIPT = """
import sys
import array_api_compat, sklearn
from sklearn.datasets import load_iris
from anyarray_nn.backend import from_numpy, resolve_backend
from anyarray_nn.estimators import NetworkClassifier, NetworkRegressor
b = resolve_backend(sys.argv[1], None if sys.argv[2] == "None" else sys.argv[2])
X, y = load_iris(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)
Xd, yd = from_numpy(X, b, "float32"), from_numpy(y, b)  # on the backend's device
clf = NetworkClassifier(epochs=60, learning_rate=0.01, random_state=0)
reg = NetworkRegressor(epochs=20, random_state=0)
with sklearn.config_context(array_api_dispatch=True):
    clf.fit(Xd, yd)
    weights = clf.network_.weights[0]
    proba, pred, score = clf.predict_proba(Xd), clf.predict(Xd), clf.score(Xd, yd)
    r = reg.fit(Xd, Xd[:, 0] * 2).predict(Xd)
assert tuple(proba.shape) == (150, 3) and tuple(pred.shape) == (150,) == tuple(r.shape)
for a in (weights, proba, pred, r):  # computed and returned in the input's library and device
    assert array_api_compat.array_namespace(a) is array_api_compat.array_namespace(Xd), type(a)
    assert array_api_compat.device(a) == array_api_compat.device(Xd), array_api_compat.device(a)
print("score", float(score))
"""


def test_array_api_dispatch_on_every_backend(backend: Backend) -> None:
    """fit/predict/score on arrays of any library of the test matrix (CuPy and the torch/JAX
    GPUs where usable), with scikit-learn's ``array_api_dispatch`` on."""
    if backend.name == "numpy-readonly":
        pytest.skip("the read-only NumPy stand-in is a test namespace, not a user's array type")
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    argv = [sys.executable, "-c", DISPATCH_SCRIPT, backend.name, _device_arg(backend)]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert float(run.stdout.split()[-1]) > 0.9


def _device_arg(backend: Backend) -> str:
    """The device as ``resolve_backend`` takes it: array_api_strict's by its name
    (``Device('device1')``), torch's as text ("cpu", "cuda:0"), JAX's platform; else None
    (NumPy; CuPy's current GPU)."""
    if backend.name == "array_api_strict":
        return repr(backend.device).split("'")[1]
    if backend.name == "torch":
        return str(backend.device)
    if backend.name == "jax":
        return str(backend.device.platform)
    return "None"


def test_missing_sklearn_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyarray_nn.estimators as estimators

    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now fails
    monkeypatch.delitem(sys.modules, "anyarray_nn.estimators.regressor", raising=False)
    monkeypatch.delitem(sys.modules, "anyarray_nn.estimators._base", raising=False)
    with pytest.raises(ImportError, match=r"anyarray-nn\[sklearn\]"):
        estimators.__getattr__("NetworkRegressor")
