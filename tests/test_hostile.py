"""Hostile files: model files, checkpoints and IDX files built to exhaust memory or to
reach the zip module's odd corners.  Each is refused with the library's own error before
anything large is allocated (peak memory measured with :mod:`tracemalloc`, which sees
NumPy's allocations)."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anyarray_nn import Adam, Network
from anyarray_nn.backend import from_numpy
from anyarray_nn.data.idx import IDXFormatError, read_idx
from anyarray_nn.persistence import (
    ModelFileError,
    load_checkpoint,
    load_network,
    read_metadata,
    save_checkpoint,
    save_network,
)

MB = 1 << 20


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Yields a list that holds, afterwards, the peak of traced allocations in bytes."""
    result: list[int] = []
    tracemalloc.start()
    try:
        yield result
    finally:
        result.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def _npy(array: np.ndarray | None = None, *, header: dict[str, Any] | None = None) -> bytes:
    """The bytes of a ``.npy`` file; with ``header``, a header that may lie."""
    out = io.BytesIO()
    if header is None:
        np.lib.format.write_array(out, np.asarray(array), allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue()


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _write_zip(path: Path, entries: dict[str, bytes], deflate: bool = False) -> Path:
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def _metadata(path: Path, change: Callable[[dict[str, Any]], None]) -> bytes:
    meta = read_metadata(path)
    change(meta)
    return _npy(np.array(json.dumps(meta)))


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_network(Network([784, 16, 10], seed=0), tmp_path / "good.npz")


def _claim(sizes: list[int]) -> Callable[[dict[str, Any]], None]:
    return lambda meta: meta["network"].__setitem__("sizes", sizes)


def test_huge_claimed_network_is_refused_before_allocating(model: Path, tmp_path: Path) -> None:
    # Issue 13, finding 1: 200 KB claiming [784, 500000, 10] reached 4.5 GB before.
    entries = _entries(model)
    entries["metadata.npy"] = _metadata(model, _claim([784, 500000, 10]))
    hostile = _write_zip(tmp_path / "claims.npz", entries)
    with peak_memory() as peak, pytest.raises(ModelFileError, match="more than the limit"):
        load_network(hostile)
    assert peak[0] < 5 * MB


def test_claimed_sizes_are_compared_with_headers_before_any_network(
    model: Path, tmp_path: Path
) -> None:
    # Within the limit, but not what the file stores: refused from the headers alone.
    entries = _entries(model)
    entries["metadata.npy"] = _metadata(model, _claim([784, 50000, 10]))
    hostile = _write_zip(tmp_path / "claims.npz", entries)
    with peak_memory() as peak, pytest.raises(ModelFileError, match=r"expected W \(50000, 784\)"):
        load_network(hostile)
    assert peak[0] < 5 * MB


def test_unused_entries_are_never_read(model: Path, tmp_path: Path) -> None:
    # Before: every entry was read; a 4 GiB compressed extra entry was allocated.
    entries = _entries(model)
    entries["junk.npy"] = _npy(header={"descr": "|u1", "fortran_order": False, "shape": (1 << 32,)})
    entries["junk.npy"] += bytes(4 * MB)  # a lying header over a smaller payload
    hostile = _write_zip(tmp_path / "extra.npz", entries, deflate=True)
    with peak_memory() as peak:
        net = load_network(hostile)
    assert net.sizes == (784, 16, 10)
    assert peak[0] < 2 * MB  # the model is 50 KB; the 4 GiB entry is never touched


def test_header_claiming_more_than_the_zip_holds(model: Path, tmp_path: Path) -> None:
    entries = _entries(model)
    entries["W0.npy"] = _npy(header={"descr": "<f4", "fortran_order": False, "shape": (16, 784)})
    hostile = _write_zip(tmp_path / "lie.npz", entries)
    with peak_memory() as peak, pytest.raises(ModelFileError, match="but the zip holds 0"):
        load_network(hostile)
    assert peak[0] < 5 * MB


def test_compressed_bomb_in_an_expected_entry(model: Path, tmp_path: Path) -> None:
    # A deflated W0 of 64 MB zeros whose header is honest but does not fit the metadata.
    entries = _entries(model)
    entries["W0.npy"] = _npy(np.zeros((20000, 784), np.float32))
    hostile = _write_zip(tmp_path / "bomb.npz", entries, deflate=True)
    assert hostile.stat().st_size < 2 * MB
    with peak_memory() as peak, pytest.raises(ModelFileError, match=r"expected W \(16, 784\)"):
        load_network(hostile)
    assert peak[0] < 5 * MB


def test_deeply_nested_metadata(model: Path, tmp_path: Path) -> None:
    entries = _entries(model)
    entries["metadata.npy"] = _npy(np.array("[" * 200_000 + "]" * 200_000))
    hostile = _write_zip(tmp_path / "nested.npz", entries)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        load_network(hostile)


def test_oversized_metadata(model: Path, tmp_path: Path) -> None:
    entries = _entries(model)
    big = {"descr": "<U5000000", "fortran_order": False, "shape": ()}
    entries["metadata.npy"] = _npy(header=big) + bytes(20_000_000)
    hostile = _write_zip(tmp_path / "meta.npz", entries)
    with pytest.raises(ModelFileError, match="more than the"):
        load_network(hostile)


def _patch_central(path: Path, name: str, offset: int, value: int) -> None:
    """Set a 2-byte field of ``name``'s central-directory record (the one zipfile trusts)."""
    raw = bytearray(path.read_bytes())
    record = raw.rindex(b"PK\x01\x02", 0, raw.rindex(name.encode()))
    raw[record + offset : record + offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (8, 0x1, "encrypted"),  # flag bits: zipfile raises RuntimeError
        (10, 12, "unsupported compression"),  # bzip2: not what an .npz uses
        (10, 99, "unsupported compression"),  # unknown: zipfile raises NotImplementedError
    ],
)
def test_encrypted_and_unknown_compression_entries(
    model: Path, offset: int, value: int, message: str
) -> None:
    _patch_central(model, "W0.npy", offset, value)
    with pytest.raises(ModelFileError, match=message):
        load_network(model)


@pytest.mark.parametrize("value", [3e38, -2e6, np.inf])
def test_absurd_or_infinite_weights_are_refused(tmp_path: Path, value: float) -> None:
    net = Network([4, 3, 2], seed=0)
    Ws, bs = net.get_weights()
    Ws[1][0, 0] = value
    net.set_weights(Ws, bs)
    path = save_network(net, tmp_path / "absurd.npz")
    with pytest.raises(ModelFileError, match=r"damaged or the run diverged|NaN or inf"):
        load_network(path)


def test_checkpoint_claims_are_checked_before_reading(tmp_path: Path) -> None:
    net, opt = Network([6, 5, 4], seed=0), Adam(0.01)
    X = net.asarray(np.random.default_rng(0).random((8, 6)))
    net.train_step(X, from_numpy(np.arange(8) % 4, net.backend), opt)
    path = save_checkpoint(tmp_path / "c.npz", net, opt, epoch=1, rng_state={}, state={})
    entries = _entries(path)
    entries["metadata.npy"] = _metadata(
        path, lambda m: m["optimizer"].__setitem__("n_state", 10**9)
    )
    hostile = _write_zip(tmp_path / "many.npz", entries)
    with peak_memory() as peak, pytest.raises(ModelFileError, match="optimiser arrays"):
        load_checkpoint(hostile, Network([6, 5, 4], seed=1), Adam(0.01))
    assert peak[0] < 5 * MB
    entries = _entries(path)
    entries["opt0.npy"] = _npy(header={"descr": "<f4", "fortran_order": False, "shape": (10**9,)})
    hostile = _write_zip(tmp_path / "big.npz", entries)
    with pytest.raises(ModelFileError, match="its header declares 4000000000 payload bytes"):
        load_checkpoint(hostile, Network([6, 5, 4], seed=1), Adam(0.01))


# --------------------------------------------------------------------------------------
# IDX gzip bombs (finding 2)
# --------------------------------------------------------------------------------------


def _gzip_idx(path: Path, n: int, payload: int) -> Path:
    with gzip.open(path, "wb", compresslevel=1) as g:
        g.write(bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes())
        chunk = bytes(MB)
        for _ in range(payload // MB):
            g.write(chunk)
    return path


def test_gzip_bomb_above_the_limit_is_refused_from_its_header(tmp_path: Path) -> None:
    # A 3 MB .gz whose header (honestly) promises 3 GB: refused before decompressing.
    bomb = _gzip_idx(tmp_path / "bomb-idx3-ubyte.gz", 4_000_000, 8 * MB)
    with peak_memory() as peak, pytest.raises(IDXFormatError, match="limit"):
        read_idx(bomb)
    assert peak[0] < 5 * MB


def test_gzip_bomb_within_a_stated_limit(tmp_path: Path) -> None:
    bomb = _gzip_idx(tmp_path / "bomb-idx3-ubyte.gz", 20_000, 16 * MB)
    with peak_memory() as peak, pytest.raises(IDXFormatError, match="limit of 1000000 bytes"):
        read_idx(bomb, max_bytes=1_000_000)
    assert peak[0] < 5 * MB


def test_gzip_reader_holds_the_payload_once(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (20000, 28, 28), dtype=np.uint8)
    path = tmp_path / "x-idx3-ubyte.gz"
    from anyarray_nn.data.idx import write_idx

    write_idx(path, images, compresslevel=1)
    with peak_memory() as peak:
        got = read_idx(path)
    np.testing.assert_array_equal(got, images)
    assert peak[0] < images.nbytes + 4 * MB  # one array and a few 1 MiB pieces


def test_canonical_mnist_name_gets_the_exact_size(tmp_path: Path) -> None:
    # Under the original file's name, only the original size is accepted.
    from anyarray_nn.data import load_mnist
    from anyarray_nn.data.mnist_files import MNIST_FILES

    for stem in MNIST_FILES:
        (tmp_path / stem).write_bytes(b"")
    _gzip_idx(tmp_path / "train-images-idx3-ubyte.gz", 70_000, 16 * MB)
    (tmp_path / "train-images-idx3-ubyte").unlink()
    with peak_memory() as peak, pytest.raises(IDXFormatError, match="limit of 47040016 bytes"):
        load_mnist(tmp_path, download=False)
    assert peak[0] < 5 * MB
