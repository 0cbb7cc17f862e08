"""scikit-learn estimators: :class:`NetworkClassifier` and :class:`NetworkRegressor`.

scikit-learn is an optional dependency (``pip install 'anyarray-nn[sklearn]'``): this
package imports it only when an estimator is first asked for, so ``import anyarray_nn``
never needs it.

Examples
--------
>>> from anyarray_nn.estimators import NetworkClassifier   # doctest: +SKIP
>>> from sklearn.pipeline import make_pipeline              # doctest: +SKIP
>>> from sklearn.preprocessing import StandardScaler        # doctest: +SKIP
>>> model = make_pipeline(StandardScaler(), NetworkClassifier(random_state=0))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["NetworkClassifier", "NetworkRegressor"]

_MODULES = {"NetworkClassifier": ".classifier", "NetworkRegressor": ".regressor"}


def __getattr__(name: str) -> Any:
    """Import an estimator (and scikit-learn) on first use."""
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(_MODULES[name], __name__)
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("sklearn"):
            raise
        raise ImportError(
            f"anyarray_nn.estimators.{name} needs scikit-learn >= 1.6: "
            "pip install 'anyarray-nn[sklearn]' (or pip install scikit-learn)"
        ) from exc
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
