"""Seeded fuzzing of the readers of untrusted files (issue 13): model files, checkpoints and
IDX files with random bytes flipped, inserted, cut, or entries renamed and repacked.

Each case must load or raise the library's own error (:class:`ModelFileError`,
:class:`IDXFormatError`), and no case may allocate much: the peak of traced allocations
stays within a few times the size of the legitimate file.  A few hundred cases, seconds.
"""

from __future__ import annotations

import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn import Adam, Network
from anyarray_nn.backend import from_numpy
from anyarray_nn.data.idx import IDXFormatError, read_idx, write_idx
from anyarray_nn.persistence import (
    ModelFileError,
    load_checkpoint,
    load_network,
    save_checkpoint,
    save_network,
)

CASES = 200
LIMIT = 8 << 20  # traced bytes; the legitimate files are a few hundred KB


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random damage: flipped bytes, a cut, an insertion, or a header-sized overwrite."""
    raw = bytearray(data)
    kind = rng.integers(5)
    if kind == 0:  # flip a few bytes anywhere
        for i in rng.integers(0, len(raw), rng.integers(1, 9)):
            raw[i] ^= int(rng.integers(1, 256))
    elif kind == 1:  # cut the file
        raw = raw[: rng.integers(0, len(raw))]
    elif kind == 2:  # insert random bytes
        at = int(rng.integers(0, len(raw)))
        raw[at:at] = rng.integers(0, 256, rng.integers(1, 64), dtype=np.uint8).tobytes()
    elif kind == 3:  # big numbers where sizes and counts live: the first 200 bytes
        i = int(rng.integers(0, min(200, len(raw) - 4)))
        raw[i : i + 4] = rng.choice([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\xff" * 4])
    else:  # overwrite in a zip's central directory (the records zipfile trusts)
        start = raw.rfind(b"PK\x01\x02")
        start = start if start >= 0 else 0
        i = int(rng.integers(start, len(raw)))
        raw[i : i + 2] = rng.integers(0, 256, 2, dtype=np.uint8).tobytes()
    return bytes(raw)


def _fuzz(
    tmp_path: Path,
    original: Path,
    load: Callable[[Path], object],
    errors: tuple[type, ...],
    seed: int,
) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    data = original.read_bytes()
    outcomes = {"loaded": 0, "refused": 0}
    target = tmp_path / f"fuzzed{original.suffix}"
    for _ in range(CASES):
        target.write_bytes(_mutate(data, rng))
        tracemalloc.start()
        try:
            load(target)
            outcomes["loaded"] += 1
        except errors:
            outcomes["refused"] += 1
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < LIMIT, f"case {_} allocated {peak} bytes"
    return outcomes


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    net, opt = Network([64, 16, 10], seed=0), Adam(0.01)
    X = net.asarray(np.random.default_rng(0).random((8, 64)))
    net.train_step(X, from_numpy(np.arange(8) % 10, net.backend), opt)
    compressed = folder / "compressed.npz"
    with (
        zipfile.ZipFile(save_network(net, folder / "model.npz")) as src,
        zipfile.ZipFile(compressed, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    images = np.random.default_rng(1).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    write_idx(folder / "images-idx3-ubyte", images)
    write_idx(folder / "images-idx3-ubyte.gz", images)
    return {
        "model": folder / "model.npz",
        "compressed": compressed,
        "checkpoint": save_checkpoint(
            folder / "ckpt.npz", net, opt, epoch=1, rng_state={}, state={"history": []}
        ),
        "idx": folder / "images-idx3-ubyte",
        "idx.gz": folder / "images-idx3-ubyte.gz",
    }


@pytest.mark.parametrize("kind", ["model", "compressed"])
def test_fuzzed_model_files(tmp_path: Path, files: dict[str, Path], kind: str) -> None:
    outcomes = _fuzz(tmp_path, files[kind], load_network, (ModelFileError,), seed=1)
    assert outcomes["refused"] > CASES // 2


def test_fuzzed_checkpoints(tmp_path: Path, files: dict[str, Path]) -> None:
    def load(path: Path) -> object:
        return load_checkpoint(path, Network([64, 16, 10], seed=1), Adam(0.01))

    outcomes = _fuzz(tmp_path, files["checkpoint"], load, (ModelFileError,), seed=2)
    assert outcomes["refused"] > CASES // 2


@pytest.mark.parametrize("kind", ["idx", "idx.gz"])
def test_fuzzed_idx_files(tmp_path: Path, files: dict[str, Path], kind: str) -> None:
    def load(path: Path) -> object:
        return read_idx(path, max_bytes=1 << 20)

    _fuzz(tmp_path, files[kind], load, (IDXFormatError,), seed=3)
