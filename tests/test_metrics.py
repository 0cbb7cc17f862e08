"""Metrics against hand computations: accuracy, cost, confusion matrix, precision/recall,
misclassified indices, on every backend and through both input paths (uint8, float)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anyarray_nn import Network, to_numpy
from anyarray_nn.backend import Backend
from anyarray_nn.metrics import Evaluation, confusion_matrix, evaluate, format_confusion

# The hand-made case: 8 samples, 3 classes.
LABELS = np.array([0, 0, 1, 1, 2, 2, 2, 0])
PREDICTIONS = np.array([0, 1, 1, 1, 2, 0, 2, 2])
CONFUSION = np.array(
    [
        [1, 1, 1],  # true 0: predicted 0 (sample 0), 1 (sample 1), 2 (sample 7)
        [0, 2, 0],  # true 1: both right
        [1, 0, 2],  # true 2: predicted 0 once (sample 5)
    ]
)
ACCURACY = 5 / 8
PRECISION = np.array([1 / 2, 2 / 3, 2 / 3])  # diagonal / column sums (2, 3, 3)
RECALL = np.array([1 / 3, 2 / 2, 2 / 3])  # diagonal / row sums (3, 2, 3)
MISCLASSIFIED = np.array([1, 5, 7])

PIXEL = 200  # the lit pixel of each image


def _selector(backend: Backend, dtype: str = "float32") -> Network:
    """A one-layer network whose output ``k`` is input pixel ``k`` (pixel 3 is ignored)."""
    net = Network([4, 3], output="identity", cost="quadratic", dtype=dtype, backend=backend, seed=0)
    W = np.zeros((3, 4), dtype=dtype)
    W[[0, 1, 2], [0, 1, 2]] = 1.0
    net.set_weights([W], [np.zeros(3, dtype=dtype)])
    return net


def _images() -> np.ndarray:
    """uint8 images (8, 2, 2): pixel ``PREDICTIONS[i]`` lit, pixel 3 a distractor."""
    flat = np.zeros((8, 4), np.uint8)
    flat[np.arange(8), PREDICTIONS] = PIXEL
    flat[:, 3] = 255
    return flat.reshape(8, 2, 2)


def _hand_cost() -> float:
    # quadratic: 0.5 ||a - y||^2 with a = (PIXEL/255) e_pred and y = e_label
    a = PIXEL / 255
    right, wrong = 0.5 * (a - 1) ** 2, 0.5 * (a * a + 1)
    n_right = int((LABELS == PREDICTIONS).sum())
    return (n_right * right + (8 - n_right) * wrong) / 8


def _check(ev: Evaluation) -> None:
    np.testing.assert_array_equal(ev.predictions, PREDICTIONS)
    np.testing.assert_array_equal(ev.confusion, CONFUSION)
    assert ev.accuracy == pytest.approx(ACCURACY, abs=0)
    np.testing.assert_allclose(ev.precision, PRECISION, rtol=1e-12)
    np.testing.assert_allclose(ev.recall, RECALL, rtol=1e-12)
    np.testing.assert_array_equal(ev.misclassified, MISCLASSIFIED)
    assert ev.n_samples == 8
    assert isinstance(ev.accuracy, float) and isinstance(ev.cost, float)


@pytest.mark.parametrize("batch_size", [3, 4096])
def test_evaluate_uint8_matches_hand_computation(backend: Backend, batch_size: int) -> None:
    ev = evaluate(_selector(backend), _images(), LABELS, batch_size=batch_size)
    _check(ev)
    assert ev.cost == pytest.approx(_hand_cost(), rel=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_evaluate_float_input_matches_hand_computation(backend: Backend, dtype: str) -> None:
    # float input is used as given (no 1/255): pass the scaled pixels, flat
    images = _images().reshape(8, 4).astype(np.float64) / 255
    ev = evaluate(_selector(backend, dtype), images, LABELS, batch_size=5)
    _check(ev)
    assert ev.cost == pytest.approx(_hand_cost(), rel=1e-6 if dtype == "float32" else 1e-12)


def test_evaluate_agrees_with_network_on_random_data(backend: Backend) -> None:
    rng = np.random.default_rng(0)
    net = Network([16, 8, 5], activation="sigmoid", backend=backend, seed=1)
    images = rng.integers(0, 256, (50, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 5, 50)
    ev = evaluate(net, images, labels, batch_size=7)
    X = net.asarray(images.reshape(50, 16) / 255)
    expected = to_numpy(net.predict(X))
    np.testing.assert_array_equal(ev.predictions, expected)
    assert ev.accuracy == pytest.approx(float(np.mean(expected == labels)), abs=0)
    cost = float(to_numpy(net.cost(X, net.xp.asarray(labels, device=net.device))))
    assert ev.cost == pytest.approx(cost, rel=1e-5)
    assert ev.confusion.sum() == 50
    np.testing.assert_array_equal(ev.confusion.sum(axis=1), np.bincount(labels, minlength=5))


def test_confusion_matrix_by_hand() -> None:
    got = confusion_matrix(LABELS, PREDICTIONS, 3)
    np.testing.assert_array_equal(got, CONFUSION)
    assert got.dtype == np.int64
    # reference by explicit counting, with a class (3) that never occurs
    wide = confusion_matrix(LABELS, PREDICTIONS, 4)
    expected = np.zeros((4, 4), np.int64)
    for t, p in zip(LABELS, PREDICTIONS, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(wide, expected)
    assert confusion_matrix(np.array([], np.int64), np.array([], np.int64), 2).tolist() == [
        [0, 0],
        [0, 0],
    ]


@pytest.mark.parametrize(
    ("labels", "predictions", "message"),
    [
        ([0, 3], [0, 1], r"labels must lie in \[0, 3\), found values in \[0, 3\]"),
        ([0, -1], [0, 1], r"labels must lie in \[0, 3\)"),
        ([0, 1], [0, 5], r"predictions must lie in \[0, 3\)"),
        ([0, 1, 2], [0, 1], "3 labels but 2 predictions"),
        ([[0, 1]], [[0, 1]], "one-dimensional"),
        ([0.0, 1.0], [0, 1], "integer classes"),
    ],
)
def test_confusion_matrix_rejects_bad_classes(
    labels: list, predictions: list, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_matrix(np.array(labels), np.array(predictions), 3)


def test_class_never_predicted_or_absent(numpy_backend: Backend) -> None:
    # 4 classes; class 3 never occurs and is never predicted: precision and recall 0, not NaN
    net = Network([4, 4], output="identity", cost="quadratic", backend=numpy_backend, seed=0)
    W = np.zeros((4, 4), np.float32)
    W[[0, 1, 2], [0, 1, 2]] = 1.0  # output 3 is always 0 < the lit pixel
    net.set_weights([W], [np.zeros(4, np.float32)])
    images = _images().copy()
    images.reshape(8, 4)[:, 3] = 0
    ev = evaluate(net, images, LABELS)
    assert ev.confusion.shape == (4, 4)
    assert ev.precision[3] == 0.0 and ev.recall[3] == 0.0
    assert not np.isnan(ev.precision).any() and not np.isnan(ev.recall).any()
    np.testing.assert_allclose(ev.precision[:3], PRECISION)


def test_all_correct() -> None:
    net = _selector("numpy")
    ev = evaluate(net, _images(), PREDICTIONS)
    assert ev.accuracy == 1.0
    assert ev.misclassified.shape == (0,)
    np.testing.assert_array_equal(ev.precision, np.ones(3))
    np.testing.assert_array_equal(ev.recall, np.ones(3))


def test_to_dict_is_json_ready() -> None:
    ev = evaluate(_selector("numpy"), _images(), LABELS)
    d = json.loads(json.dumps(ev.to_dict()))
    assert d["accuracy"] == ACCURACY
    assert d["n_samples"] == 8 and d["n_misclassified"] == 3
    assert d["confusion_matrix"] == CONFUSION.tolist()
    assert d["misclassified"] == MISCLASSIFIED.tolist()
    np.testing.assert_allclose(d["precision"], PRECISION)
    np.testing.assert_allclose(d["recall"], RECALL)
    assert "predictions" not in repr(ev)


def test_format_confusion() -> None:
    text = format_confusion(CONFUSION)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["true\\pred", "0", "1", "2"]
    assert [int(v) for v in lines[3].split()] == [2, 1, 0, 2]  # row label, then counts


@pytest.mark.parametrize(
    ("labels", "kwargs", "error", "message"),
    [
        (LABELS[:7], {}, ValueError, "7 labels for images of shape"),
        (LABELS + 1, {}, ValueError, r"labels must lie in \[0, 3\)"),
        (LABELS, {"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        (LABELS, {"batch_size": 2.0}, TypeError, "batch_size must be an int"),
    ],
)
def test_evaluate_rejects_bad_input(
    labels: np.ndarray, kwargs: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        evaluate(_selector("numpy"), _images(), labels, **kwargs)
