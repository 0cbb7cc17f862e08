"""Shift augmentation: device batch shifts and the host five-fold expansion."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

from anyarray_nn.backend import Backend, from_numpy, to_numpy
from anyarray_nn.data.augment import EXPANSION_SHIFTS, expand_with_shifts, shift_images


def _host_shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Reference by definition: out[r, c] = img[r - dy, c - dx] if inside, else 0."""
    h, w = img.shape
    out = np.zeros_like(img)
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = img[r - dy, c - dx]
    return out


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (2, -3), (-3, 2)])
def test_single_lit_pixel_moves_by_dy_dx(backend: Backend, dy: int, dx: int) -> None:
    xp = backend.xp
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 10, 13] = 200
    X = from_numpy(img.reshape(1, 784), backend)
    out = shift_images(
        xp,
        X,
        from_numpy(np.array([dy]), backend),
        from_numpy(np.array([dx]), backend),
        (28, 28),
        max_shift=3,
    )
    assert out.shape == (1, 784)
    assert out.dtype == xp.uint8
    assert array_api_compat.device(out) == backend.device
    expected = np.zeros((28, 28), np.uint8)
    expected[10 + dy, 13 + dx] = 200
    np.testing.assert_array_equal(to_numpy(out).reshape(28, 28), expected)


def test_per_sample_shifts_match_definition(backend: Backend) -> None:
    rng = np.random.default_rng(3)
    h, w = 5, 7
    imgs = rng.integers(1, 256, size=(12, h, w), dtype=np.uint8)  # no zeros: vacated shows
    dy = rng.integers(-2, 3, size=12)
    dx = rng.integers(-2, 3, size=12)
    dy[:2], dx[:2] = (2, -2), (-2, 2)  # corners included
    out = shift_images(
        backend.xp,
        from_numpy(imgs.reshape(12, h * w), backend),
        from_numpy(dy, backend),
        from_numpy(dx, backend),
        (h, w),
        max_shift=2,
    )
    got = to_numpy(out).reshape(12, h, w)
    for i in range(12):
        np.testing.assert_array_equal(got[i], _host_shift(imgs[i], int(dy[i]), int(dx[i])))
        # vacated rows / columns are exactly zero
        if dy[i] > 0:
            assert not got[i, : dy[i], :].any()
        if dx[i] < 0:
            assert not got[i, :, w + dx[i] :].any()


def test_float_input_and_inferred_max_shift(backend: Backend) -> None:
    xp = backend.xp
    rng = np.random.default_rng(4)
    imgs = rng.random((4, 6 * 6))
    dy, dx = np.array([1, 0, -1, 3]), np.array([0, -2, 1, 0])
    out = shift_images(
        xp,
        from_numpy(imgs, backend, "float64"),
        from_numpy(dy, backend),
        from_numpy(dx, backend),
        (6, 6),
    )
    assert out.dtype == xp.float64
    got = to_numpy(out).reshape(4, 6, 6)
    for i in range(4):
        expected = _host_shift(imgs[i].reshape(6, 6), int(dy[i]), int(dx[i]))
        np.testing.assert_array_equal(got[i], expected)


def test_shift_out_of_image_gives_zeros(numpy_backend: Backend) -> None:
    imgs = np.full((2, 9), 5, np.uint8)
    out = shift_images(
        numpy_backend.xp,
        from_numpy(imgs, numpy_backend),
        from_numpy(np.array([3, 0]), numpy_backend),
        from_numpy(np.array([0, -4]), numpy_backend),
        (3, 3),
        max_shift=4,
    )
    assert not to_numpy(out).any()


def test_shift_images_rejects_bad_shape(numpy_backend: Backend) -> None:
    X = from_numpy(np.zeros((2, 10), np.uint8), numpy_backend)
    z = from_numpy(np.zeros(2, np.int64), numpy_backend)
    with pytest.raises(ValueError, match="images_flat must have shape"):
        shift_images(numpy_backend.xp, X, z, z, (3, 3))


@pytest.mark.parametrize("flat", [False, True])
def test_expand_with_shifts(flat: bool) -> None:
    rng = np.random.default_rng(0)
    n = 4
    imgs = rng.integers(1, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1])
    given = imgs.reshape(n, 784) if flat else imgs
    x5, y5 = expand_with_shifts(given, labels)
    assert x5.shape == ((5 * n, 784) if flat else (5 * n, 28, 28))
    assert x5.dtype == np.uint8
    np.testing.assert_array_equal(y5, np.tile(labels, 5))
    blocks = x5.reshape(5, n, 28, 28)
    np.testing.assert_array_equal(blocks[0], imgs)  # originals first
    up, down, left, right = blocks[1], blocks[2], blocks[3], blocks[4]
    np.testing.assert_array_equal(up[:, :-1, :], imgs[:, 1:, :])
    assert not up[:, -1, :].any()
    np.testing.assert_array_equal(down[:, 1:, :], imgs[:, :-1, :])
    assert not down[:, 0, :].any()
    np.testing.assert_array_equal(left[:, :, :-1], imgs[:, :, 1:])
    assert not left[:, :, -1].any()
    np.testing.assert_array_equal(right[:, :, 1:], imgs[:, :, :-1])
    assert not right[:, :, 0].any()
    assert EXPANSION_SHIFTS == ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def test_expand_with_shifts_matches_device_shift(numpy_backend: Backend) -> None:
    imgs = np.random.default_rng(1).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    x5, _ = expand_with_shifts(imgs, np.zeros(3, np.int64))
    for k, (dy, dx) in enumerate(EXPANSION_SHIFTS):
        out = shift_images(
            numpy_backend.xp,
            from_numpy(imgs.reshape(3, 784), numpy_backend),
            from_numpy(np.full(3, dy), numpy_backend),
            from_numpy(np.full(3, dx), numpy_backend),
            max_shift=1,
        )
        np.testing.assert_array_equal(to_numpy(out), x5[3 * k : 3 * k + 3].reshape(3, 784))


def test_expand_with_shifts_validates() -> None:
    with pytest.raises(ValueError, match="labels must have shape"):
        expand_with_shifts(np.zeros((3, 28, 28), np.uint8), np.zeros(2))
    with pytest.raises(ValueError, match="images must have shape"):
        expand_with_shifts(np.zeros((3, 27, 28), np.uint8), np.zeros(3))


@pytest.mark.parametrize("k", [1, 2])
def test_shifted_rows_match_shift_images(backend: Backend, k: int) -> None:
    from anyarray_nn.data.augment import ShiftedRows

    rng = np.random.default_rng(k)
    h, w, n = 6, 5, 20
    imgs = rng.integers(1, 256, size=(n, h * w), dtype=np.uint8)
    samples = rng.permutation(n)[:12]
    dy = rng.integers(-k, k + 1, size=12)
    dx = rng.integers(-k, k + 1, size=12)
    rows = ShiftedRows(backend.xp, from_numpy(imgs, backend), (h, w), k)
    got = rows.gather(
        from_numpy(samples, backend), from_numpy(dy, backend), from_numpy(dx, backend)
    )
    assert array_api_compat.device(got) == backend.device
    want = shift_images(array_api_compat.numpy, imgs[samples], dy, dx, (h, w), max_shift=k)
    np.testing.assert_array_equal(to_numpy(got), want)
    assert rows.rows.shape[0] * w == ShiftedRows.nbytes(n, (h, w), k)
