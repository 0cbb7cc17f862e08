"""The network as a scikit-learn estimator: a Pipeline, cross-validation and a grid search.

Run::

    python examples/sklearn_pipeline.py --backend numpy
    python examples/sklearn_pipeline.py --backend cupy     # on a CUDA GPU

Uses scikit-learn's digits (8x8 images, 1797 samples, shipped with scikit-learn: no
download); needs ``pip install 'anyarray-nn[sklearn]'``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from anyarray_nn.estimators import NetworkClassifier


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy, cupy or array_api_strict")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = make_pipeline(
        StandardScaler(),  # fitted on each training fold only
        NetworkClassifier(epochs=args.epochs, backend=args.backend, random_state=0),
    )
    scores = cross_val_score(model, X_train, y_train, cv=args.folds)
    print(f"cross-validation accuracy {scores.mean():.4f} +- {scores.std():.4f}")

    grid = {
        "networkclassifier__hidden_layer_sizes": [(32,), (128,)],
        "networkclassifier__weight_decay": [0.0, 1e-3],
    }
    search = GridSearchCV(model, grid, cv=3).fit(X_train, y_train)
    print(f"best parameters {search.best_params_} (cv accuracy {search.best_score_:.4f})")
    accuracy = float(search.score(X_test, y_test))
    print(f"test accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
