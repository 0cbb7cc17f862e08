"""Every backend trains the same network: the training loop (with each library's step: JAX
compiled, torch under no_grad), the device-resident uint8 data, and models moving between
libraries."""

from __future__ import annotations

from pathlib import Path

import array_api_compat
import numpy as np
import pytest

from anyarray_nn import Network
from anyarray_nn.backend import Backend, resolve_backend, to_numpy
from anyarray_nn.data.batches import BatchIterator
from anyarray_nn.persistence import load_network, save_network
from anyarray_nn.training.loop import train

#: float32 weights after three epochs (a dozen Adam steps) agree to this; float64 to 1e-10.
FLOAT32_ATOL = 2e-5


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), rng.integers(0, 4, 40)


def _trained(backend: Backend | str, dtype: str, optimizer: str) -> list[np.ndarray]:
    images, labels = _data()
    net = Network([64, 12, 4], dtype=dtype, backend=backend, seed=3)
    train(
        net, images, labels, optimizer=optimizer, epochs=3, batch_size=16,
        learning_rate=0.05, weight_decay=1e-4, max_shift=1, seed=5, progress=False,
    )  # fmt: skip
    W, b = net.get_weights()
    return [*W, *b]


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize(("dtype", "atol"), [("float64", 1e-10), ("float32", FLOAT32_ATOL)])
def test_training_loop_gives_numpy_weights(
    backend: Backend, optimizer: str, dtype: str, atol: float
) -> None:
    got = _trained(backend, dtype, optimizer)
    want = _trained("numpy", dtype, optimizer)
    start = Network([64, 12, 4], dtype=dtype, seed=3).get_weights()[0]
    assert np.max(np.abs(want[0] - start[0])) > 1e-3, "training did not move the weights"
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, w, rtol=0, atol=atol)


def test_uint8_images_resident_on_the_device(backend: Backend) -> None:
    images, labels = _data()
    it = BatchIterator(images, labels, batch_size=16, backend=backend, image_shape=(8, 8))
    assert it.resident and it._x is not None
    assert array_api_compat.device(it._x) == backend.device
    assert it._x.dtype == backend.xp.uint8
    X, _ = next(iter(it))
    assert array_api_compat.device(X) == backend.device and X.dtype == backend.xp.float32
    streamed = BatchIterator(
        images, labels, batch_size=16, backend=backend, image_shape=(8, 8), memory_budget=0
    )
    assert not streamed.resident
    X2, _ = next(iter(streamed))
    assert array_api_compat.device(X2) == backend.device


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_models_move_between_numpy_and_torch_or_jax(library: str, tmp_path: Path) -> None:
    pytest.importorskip(library)
    X = np.random.default_rng(0).random((6, 64))
    for source, target in (("numpy", library), (library, "numpy")):
        net = Network([64, 12, 4], backend=source, seed=1)
        loaded = load_network(save_network(net, tmp_path / f"{source}.npz"), target)
        assert loaded.backend.name == resolve_backend(target).name
        np.testing.assert_allclose(
            to_numpy(loaded.predict_proba(loaded.asarray(X))),
            to_numpy(net.predict_proba(net.asarray(X))),
            rtol=1e-6,
            atol=1e-7,
        )
