"""BatchIterator: coverage, order, dtype/device, streaming, shifts, reproducibility."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

from anyarray_nn.backend import Backend, to_numpy
from anyarray_nn.data.batches import BatchIterator

N = 103  # 6 full batches of 16 and a partial one of 7
B = 16


def _data(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """Images whose first pixel encodes the sample id (7 is invertible mod 256)."""
    ids = np.arange(n)
    images = ((ids[:, None] * 7 + np.arange(784)[None, :]) % 256).astype(np.uint8)
    labels = ids % 10
    return images.reshape(n, 28, 28), labels


_INV7 = 183  # 7 * 183 == 1 (mod 256)


def _ids(X: object) -> np.ndarray:
    """Sample ids of a batch, decoded from the first pixel."""
    first = np.rint(to_numpy(X)[:, 0] * 255).astype(np.int64)
    return (first * _INV7) % 256


def _epoch(it: BatchIterator) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(to_numpy(X), to_numpy(Y)) for X, Y in it]


@pytest.mark.parametrize("drop_last", [False, True])
def test_every_sample_exactly_once(backend: Backend, drop_last: bool) -> None:
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=B, backend=backend, seed=0, drop_last=drop_last)
    batches = list(it)
    sizes = [int(X.shape[0]) for X, _ in batches]
    if drop_last:
        assert len(it) == N // B == len(batches)
        assert sizes == [B] * (N // B)
    else:
        assert len(it) == -(-N // B) == len(batches)
        assert sizes == [B] * (N // B) + [N % B]
    ids = np.concatenate([_ids(X) for X, _ in batches])
    if drop_last:
        assert len(set(ids.tolist())) == len(ids) == (N // B) * B
    else:
        np.testing.assert_array_equal(np.sort(ids), np.arange(N))
    assert not np.array_equal(ids, np.arange(len(ids)))  # shuffled
    # labels travel with their images
    for X, Y in batches:
        np.testing.assert_array_equal(np.argmax(to_numpy(Y), axis=1), labels[_ids(X)])


def test_no_shuffle_keeps_order(backend: Backend) -> None:
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=B, backend=backend, shuffle=False)
    ids = np.concatenate([_ids(X) for X, _ in it])
    np.testing.assert_array_equal(ids, np.arange(N))


def test_same_seed_same_order_on_every_backend(backend: Backend) -> None:
    images, labels = _data()
    ref = BatchIterator(images, labels, batch_size=B, backend="numpy", seed=42)
    it = BatchIterator(images, labels, batch_size=B, backend=backend, seed=42)
    for _epoch_no in range(2):
        ref_epoch, got_epoch = _epoch(ref), _epoch(it)
        assert len(ref_epoch) == len(got_epoch)
        for (rx, ry), (gx, gy) in zip(ref_epoch, got_epoch, strict=True):
            np.testing.assert_array_equal(gx, rx)
            np.testing.assert_array_equal(gy, ry)


def test_epochs_differ(numpy_backend: Backend) -> None:
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=B, backend=numpy_backend, seed=1)
    first = np.concatenate([_ids(X) for X, _ in it])
    second = np.concatenate([_ids(X) for X, _ in it])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_device_shape_and_exact_values(backend: Backend, dtype: str) -> None:
    xp = backend.xp
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=B, backend=backend, dtype=dtype, seed=5)
    flat = images.reshape(N, 784)
    for X, Y in it:
        b = int(X.shape[0])
        assert X.shape == (b, 784)
        assert Y.shape == (b, 10)
        assert X.dtype == getattr(xp, dtype)
        assert Y.dtype == getattr(xp, dtype)
        assert array_api_compat.device(X) == backend.device
        assert array_api_compat.device(Y) == backend.device
        x = to_numpy(X)
        assert x.dtype == np.dtype(dtype)
        assert x.min() >= 0.0
        assert x.max() <= 1.0
        raw = flat[_ids(X)]
        # exact: uint8 -> dtype, times the Python float 1/255 rounded to dtype
        np.testing.assert_array_equal(x, raw.astype(dtype) * np.dtype(dtype).type(1 / 255))
        np.testing.assert_allclose(x, raw / 255.0, rtol=1e-6)


def test_one_hot_and_integer_labels(backend: Backend) -> None:
    xp = backend.xp
    images, labels = _data()
    onehot = BatchIterator(images, labels, batch_size=B, backend=backend, seed=9)
    ints = BatchIterator(images, labels, batch_size=B, backend=backend, seed=9, one_hot=False)
    for (X1, Y1), (X2, Y2) in zip(onehot, ints, strict=True):
        y1, y2 = to_numpy(Y1), to_numpy(Y2)
        np.testing.assert_array_equal(to_numpy(X1), to_numpy(X2))
        assert Y2.dtype == xp.int64
        assert Y2.shape == (int(X2.shape[0]),)
        assert array_api_compat.device(Y2) == backend.device
        np.testing.assert_array_equal(y2, labels[_ids(X2)])
        np.testing.assert_array_equal(y1, np.eye(10, dtype=np.float32)[y2])


def test_num_classes_widens_one_hot(numpy_backend: Backend) -> None:
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=B, backend=numpy_backend, num_classes=12)
    _, Y = next(iter(it))
    assert Y.shape == (B, 12)
    assert not to_numpy(Y)[:, 10:].any()


@pytest.mark.parametrize(
    "shuffle, max_shift, drop_last", [(True, 0, False), (False, 0, True), (True, 2, False)]
)
def test_streamed_equals_resident(
    backend: Backend, shuffle: bool, max_shift: int, drop_last: bool
) -> None:
    images, labels = _data()
    kwargs = dict(
        batch_size=B,
        backend=backend,
        seed=11,
        shuffle=shuffle,
        max_shift=max_shift,
        drop_last=drop_last,
    )
    resident = BatchIterator(images, labels, **kwargs)
    streamed = BatchIterator(images, labels, memory_budget=3 * B * 784, **kwargs)
    assert resident.resident
    assert not streamed.resident
    assert streamed.chunk_rows == B  # two chunks of one batch each fit in 3 batches
    tiny = BatchIterator(images, labels, memory_budget=0, **kwargs)
    assert tiny.chunk_rows == B
    big = BatchIterator(images, labels, memory_budget=6 * B * 784, **kwargs)
    assert big.chunk_rows == 3 * B
    for _epoch_no in range(2):
        ref = _epoch(resident)
        for other in (streamed, tiny, big):
            got = _epoch(other)
            assert len(got) == len(ref) == len(resident)
            for (rx, ry), (gx, gy) in zip(ref, got, strict=True):
                np.testing.assert_array_equal(gx, rx)
                np.testing.assert_array_equal(gy, ry)
        # keep the generators in step: the streamed ones drew the same epoch
        assert all(
            o.rng.bit_generator.state == resident.rng.bit_generator.state
            for o in (streamed, tiny, big)
        )


def test_budget_large_enough_is_resident(numpy_backend: Backend) -> None:
    images, labels = _data()
    it = BatchIterator(
        images, labels, batch_size=B, backend=numpy_backend, memory_budget=images.nbytes
    )
    assert it.resident
    assert it.chunk_rows == N


def test_shift_augmentation_in_batches(backend: Backend) -> None:
    images, labels = _data()
    grid = images
    it = BatchIterator(
        images, labels, batch_size=B, backend=backend, dtype="float64", seed=2, max_shift=1
    )
    seen = set()
    for X, Y in it:
        x = np.rint(to_numpy(X) * 255).astype(np.uint8).reshape(-1, 28, 28)
        y = to_numpy(Y)
        for row, onehot in zip(x, y, strict=True):
            # find which sample and which (dy, dx) this is
            matches = []
            for i in np.flatnonzero(labels == np.argmax(onehot)):
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ref = np.zeros((28, 28), np.uint8)
                        src = grid[i]
                        ref[max(dy, 0) : 28 + min(dy, 0), max(dx, 0) : 28 + min(dx, 0)] = src[
                            max(-dy, 0) : 28 + min(-dy, 0), max(-dx, 0) : 28 + min(-dx, 0)
                        ]
                        if np.array_equal(row, ref):
                            matches.append((int(i), dy, dx))
            assert len(matches) == 1
            seen.add(matches[0])
    assert {i for i, _, _ in seen} == set(range(N))  # every sample once
    assert len({(dy, dx) for _, dy, dx in seen}) == 9  # all nine shifts occur


def test_shift_draws_change_per_epoch(numpy_backend: Backend) -> None:
    images, labels = _data()
    it = BatchIterator(
        images, labels, batch_size=N, backend=numpy_backend, shuffle=False, max_shift=2, seed=0
    )
    (a, _), (b, _) = next(iter(it)), next(iter(it))
    assert not np.array_equal(to_numpy(a), to_numpy(b))


def test_restoring_rng_state_reproduces_epoch(backend: Backend) -> None:
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=B, backend=backend, seed=123, max_shift=1)
    _epoch(it)  # epoch 1
    state = it.rng.bit_generator.state
    second = _epoch(it)
    third = _epoch(it)
    it.rng.bit_generator.state = state
    again = _epoch(it)
    for (ax, ay), (sx, sy) in zip(again, second, strict=True):
        np.testing.assert_array_equal(ax, sx)
        np.testing.assert_array_equal(ay, sy)
    assert not all(np.array_equal(a[0], t[0]) for a, t in zip(again, third, strict=True))


def test_generator_seed_is_used_directly(numpy_backend: Backend) -> None:
    images, labels = _data()
    rng = np.random.default_rng(7)
    it = BatchIterator(images, labels, batch_size=B, backend=numpy_backend, seed=rng)
    assert it.rng is rng
    assert it.n_samples == N
    assert it.batch_size == B
    assert it.backend.name == "numpy"
    ref = BatchIterator(images, labels, batch_size=B, backend=numpy_backend, seed=7)
    for (gx, _), (rx, _) in zip(_epoch(it), _epoch(ref), strict=True):
        np.testing.assert_array_equal(gx, rx)


def test_flat_images_accepted(numpy_backend: Backend) -> None:
    images, labels = _data()
    a = BatchIterator(images, labels, batch_size=B, seed=0)
    b = BatchIterator(images.reshape(N, 784), labels, batch_size=B, seed=0)
    for (ax, _), (bx, _) in zip(_epoch(a), _epoch(b), strict=True):
        np.testing.assert_array_equal(ax, bx)


def test_batch_larger_than_data(numpy_backend: Backend) -> None:
    images, labels = _data(5)
    it = BatchIterator(images, labels, batch_size=8, seed=0)
    assert len(it) == 1
    assert [int(X.shape[0]) for X, _ in it] == [5]
    dropped = BatchIterator(images, labels, batch_size=8, seed=0, drop_last=True)
    assert len(dropped) == 0
    assert list(dropped) == []


@pytest.mark.parametrize(
    "images, labels, kwargs, exc, match",
    [
        (np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.int64), {}, ValueError, "labels must"),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(4), {}, TypeError, "labels must be integers"),
        (np.zeros((4, 28, 28), np.float32), np.zeros(4, int), {}, TypeError, "astype"),
        (np.zeros((4, 27, 28), np.uint8), np.zeros(4, int), {}, ValueError, "shape"),
        (np.zeros((4, 783), np.uint8), np.zeros(4, int), {}, ValueError, "shape"),
        (np.zeros((0, 784), np.uint8), np.zeros(0, int), {}, ValueError, "empty"),
        (np.zeros((4, 784), np.uint8), np.array([0, 1, 10, 2]), {}, ValueError, "labels must lie"),
        (np.zeros((4, 784), np.uint8), np.array([0, -1, 1, 2]), {}, ValueError, "labels must lie"),
        (np.zeros((4, 784), np.uint8), np.zeros(4, int), {"batch_size": 0}, ValueError, ">= 1"),
        (np.zeros((4, 784), np.uint8), np.zeros(4, int), {"batch_size": 2.0}, TypeError, "int"),
        (np.zeros((4, 784), np.uint8), np.zeros(4, int), {"max_shift": -1}, ValueError, ">= 0"),
        (
            np.zeros((4, 784), np.uint8),
            np.zeros(4, int),
            {"memory_budget": -5},
            ValueError,
            ">= 0",
        ),
        (np.zeros((4, 784), np.uint8), np.zeros(4, int), {"dtype": "int8"}, ValueError, "dtype"),
    ],
)
def test_input_validation(
    images: np.ndarray, labels: np.ndarray, kwargs: dict, exc: type, match: str
) -> None:
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(exc, match=match):
        BatchIterator(images, labels, **kwargs)
