"""Elastic and affine distortions on the device: shapes, range, identity, backends, statistics."""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
import pytest

from anyarray_nn.backend import Backend, from_numpy, resolve_backend, to_numpy
from anyarray_nn.data.augment import shift_images
from anyarray_nn.data.batches import BatchIterator
from anyarray_nn.data.distortions import (
    CIRESAN_2010,
    SIMARD_2003,
    Distortions,
    gaussian_matrix,
)


def _images(n: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _apply(backend: Backend, spec: Distortions, X: np.ndarray, dtype: str, seed: int = 1):
    xp = backend.xp
    bound = spec.bind(xp, backend.device, getattr(xp, dtype))
    indices, coefficients = bound.to_device(spec.draw(np.random.default_rng(seed), X.shape[0]))
    Xd = xp.asarray(X, dtype=getattr(xp, dtype), device=backend.device)
    return bound.apply(Xd, indices, coefficients)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", [SIMARD_2003, CIRESAN_2010], ids=["simard", "ciresan"])
def test_shape_dtype_device_range(backend: Backend, spec: Distortions, dtype: str) -> None:
    X = _images().reshape(16, 784) / 255.0
    out = _apply(backend, spec, X, dtype)
    assert out.shape == (16, 784)
    assert out.dtype == getattr(backend.xp, dtype)
    assert array_api_compat.device(out) == backend.device
    host = to_numpy(out)
    assert host.min() >= 0.0 and host.max() <= 1.0
    assert not np.allclose(host, X)  # it did distort


def test_identity_when_strength_is_zero(backend: Backend) -> None:
    X = _images().reshape(16, 784) / 255.0
    zero = Distortions(alpha=0.0, sigma=4.0)
    np.testing.assert_array_equal(to_numpy(_apply(backend, zero, X, "float64")), X)


def test_same_batches_on_every_backend(backend: Backend) -> None:
    images, labels = _images(40), np.arange(40) % 10
    spec = CIRESAN_2010

    def epochs(b: Backend) -> list[np.ndarray]:
        it = BatchIterator(images, labels, batch_size=16, backend=b, seed=5, distortions=spec)
        return [to_numpy(X) for _ in range(2) for X, _ in it]

    reference = epochs(resolve_backend("numpy"))
    for got, want in zip(epochs(backend), reference, strict=True):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(reference[0], reference[3])  # the epochs differ


def test_integer_translation_is_a_shift(backend: Backend) -> None:
    X = _images(3).reshape(3, 784).astype(np.float64)
    spec = Distortions(alpha=0.0, translation=2.0)  # an affine part: M, t are read
    xp = backend.xp
    bound = spec.bind(xp, backend.device, xp.float64)
    # Source = p + t with t = (2, -1): the picture moves 2 up and 1 right.
    coefficients = np.array([[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, -1.0]] * 3)
    indices, coefs = bound.to_device((np.zeros((3, 2), np.int64), coefficients))
    out = bound.apply(from_numpy(X, backend), indices, coefs)
    shifted = shift_images(
        array_api_compat.numpy,
        X,
        np.full(3, -2),
        np.full(3, 1),
        max_shift=2,
    )
    np.testing.assert_array_equal(to_numpy(out), shifted)


def test_half_pixel_translation_averages_neighbours() -> None:
    xp = array_api_compat.numpy
    X = _images(2).reshape(2, 784).astype(np.float64)
    bound = Distortions(alpha=0.0, translation=1.0).bind(xp, "cpu", xp.float64)
    coefficients = np.array([[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.5]] * 2)
    out = bound.apply(X, *bound.to_device((np.zeros((2, 2), np.int64), coefficients)))
    img = X.reshape(2, 28, 28)
    expected = img.copy()
    expected[:, :, :-1] = 0.5 * (img[:, :, :-1] + img[:, :, 1:])
    expected[:, :, -1] = 0.5 * img[:, :, -1]  # half of the zero outside
    np.testing.assert_allclose(out.reshape(2, 28, 28), expected, rtol=0, atol=1e-12)


def test_gaussian_matrix_is_a_normalised_convolution() -> None:
    xp = array_api_compat.numpy
    G = np.asarray(gaussian_matrix(xp, 101, 4.0, dtype=xp.float64, device="cpu"))
    assert G[50].sum() == pytest.approx(1.0, abs=1e-12)  # interior rows: the whole kernel
    assert G[0].sum() < 0.6  # the border row loses the half outside
    np.testing.assert_array_equal(
        np.asarray(gaussian_matrix(xp, 5, 0.0, dtype=xp.float64, device="cpu")), np.eye(5)
    )


@pytest.mark.parametrize("alpha", [8.0, 34.0])
def test_mean_displacement_matches_alpha(alpha: float) -> None:
    """E|u| of a smoothed uniform field: sqrt(2/pi) * alpha * sqrt(var), var from G."""
    xp = array_api_compat.numpy
    spec = Distortions(alpha=alpha, sigma=4.0, bank_size=200)
    bound = spec.bind(xp, "cpu", xp.float64)
    n = 4000
    drawn = bound.to_device(spec.draw(np.random.default_rng(0), n))
    src_r, src_c = bound.source_positions(*drawn)
    rows = np.repeat(np.arange(28.0), 28)
    displacement = np.abs(np.asarray(src_r) - rows).mean(axis=0)  # per pixel, over images
    G = np.asarray(gaussian_matrix(xp, 28, 4.0, dtype=xp.float64, device="cpu"))
    g2 = (G**2).sum(axis=1)
    var = np.outer(g2, g2).reshape(-1) / 3.0  # uniform(-1, 1) noise has variance 1/3
    expected = alpha * math.sqrt(2.0 / math.pi) * np.sqrt(var)
    assert displacement.mean() == pytest.approx(expected.mean(), rel=0.05)
    cols = np.tile(np.arange(28.0), 28)
    assert np.abs(np.asarray(src_c) - cols).mean() == pytest.approx(expected.mean(), rel=0.05)


def test_affine_ranges() -> None:
    spec = Distortions(alpha=0.0, rotation=15.0, scale=0.15, translation=2.0)
    _, c = spec.draw(np.random.default_rng(0), 20000)
    det = c[:, 2] * c[:, 5] - c[:, 3] * c[:, 4]
    assert det.min() >= 0.85**2 - 1e-12 and det.max() <= 1.15**2 + 1e-12
    angle = np.degrees(np.arctan2(c[:, 4], c[:, 2]))  # no shear: pure rotation x scale
    assert np.abs(angle).max() <= 15.0 + 1e-9 and np.abs(angle).max() > 14.0
    assert np.abs(c[:, 6:]).max() <= 2.0
    assert np.all(c[:, :2] == 0.0)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="alpha"):
        Distortions(alpha=-1.0)
    with pytest.raises(ValueError, match="scale"):
        Distortions(scale=1.5)
    with pytest.raises(ValueError, match="bank_size"):
        Distortions(bank_size=0)
