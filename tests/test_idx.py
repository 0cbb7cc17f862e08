"""IDX reader/writer on synthetic files: round trips and every kind of corruption.

Also the host-side helpers of the MNIST module that need no network: folder lookup,
checksum verification of local folders, and the train/validation split.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.data import (
    MNIST_FILES,
    ChecksumError,
    MNISTNotFoundError,
    default_cache_dir,
    find_mnist_files,
    load_mnist,
    train_validation_split,
)
from anyarray_nn.data.idx import IDXFormatError, load_idx_pair, read_idx, write_idx

N_TRAIN, N_TEST = 12, 6


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _labels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, size=n, dtype=np.uint8)


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Hand-made IDX bytes, independent of :func:`write_idx`."""
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def _write_raw(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def _no_temp_files(folder: Path) -> bool:
    return not any(p.name.endswith(".tmp") for p in folder.iterdir())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _synthetic_folder(folder: Path, suffix: str = ".gz", **overrides: np.ndarray) -> dict:
    """Write a small MNIST-format folder; return {canonical name: decompressed SHA-256}."""
    arrays = {
        "train-images-idx3-ubyte": _images(N_TRAIN, 1),
        "train-labels-idx1-ubyte": _labels(N_TRAIN, 2),
        "t10k-images-idx3-ubyte": _images(N_TEST, 3),
        "t10k-labels-idx1-ubyte": _labels(N_TEST, 4),
    }
    arrays.update({k.replace("_", "-"): v for k, v in overrides.items()})
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for stem, array in arrays.items():
        data = _idx_bytes(array)
        _write_raw(folder / f"{stem}{suffix}", data)
        sums[stem] = _sha(data)
    return sums


# --------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path: Path, suffix: str, dtype: type) -> None:
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_mnist_shapes(tmp_path: Path, suffix: str) -> None:
    images, labels = _images(7), _labels(7)
    write_idx(tmp_path / f"i{suffix}", images)
    write_idx(tmp_path / f"l{suffix}", labels)
    got_images, got_labels = load_idx_pair(tmp_path / f"i{suffix}", tmp_path / f"l{suffix}")
    assert got_images.shape == (7, 28, 28) and got_images.dtype == np.uint8
    assert got_labels.shape == (7,) and got_labels.dtype == np.uint8
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    # Host arrays the caller owns: writable, C-contiguous.
    assert got_images.flags.writeable and got_images.flags.c_contiguous


def test_write_matches_hand_made_bytes(tmp_path: Path) -> None:
    array = _images(3)
    write_idx(tmp_path / "plain", array)
    write_idx(tmp_path / "packed.gz", array)
    assert (tmp_path / "plain").read_bytes() == _idx_bytes(array)
    assert gzip.decompress((tmp_path / "packed.gz").read_bytes()) == _idx_bytes(array)


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    labels = _labels(5)
    (tmp_path / "plain-but-named.gz").write_bytes(_idx_bytes(labels))
    (tmp_path / "gzipped-no-suffix").write_bytes(gzip.compress(_idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-but-named.gz"), labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "gzipped-no-suffix"), labels)


def test_multi_member_gzip(tmp_path: Path) -> None:
    data = _idx_bytes(_labels(9))
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(data[:7]) + gzip.compress(data[7:]))
    np.testing.assert_array_equal(read_idx(path), _labels(9))


def test_empty_array_round_trip(tmp_path: Path) -> None:
    write_idx(tmp_path / "e.gz", np.zeros((0, 28, 28), np.uint8))
    assert read_idx(tmp_path / "e.gz").shape == (0, 28, 28)


def test_write_is_atomic_replace(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    write_idx(path, _labels(3))
    write_idx(path, _labels(4, seed=9))
    np.testing.assert_array_equal(read_idx(path), _labels(4, seed=9))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gz"]


def test_write_failure_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x"
    write_idx(path, _labels(3))

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_idx(path, _labels(5))
    monkeypatch.undo()
    np.testing.assert_array_equal(read_idx(path), _labels(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_write_rejects_unsupported_arrays(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="dtype"):
        write_idx(tmp_path / "c", np.zeros(3, np.complex64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "s", np.uint8(3))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------
# corruption: every case raises IDXFormatError naming the file
# --------------------------------------------------------------------------------------


def _corrupt_cases() -> dict[str, tuple[bytes, str]]:
    labels = _idx_bytes(_labels(10))
    images = _idx_bytes(_images(2))
    return {
        "empty": (b"", "empty"),
        "short-header": (b"\x00\x00", "too short"),
        "bad-magic": (b"\x12\x34" + labels[2:], "bad magic"),
        "unknown-type": (b"\x00\x00\x07\x01" + labels[4:], "bad magic"),
        "zero-dims": (b"\x00\x00\x08\x00", "0 dimensions"),
        "truncated-dims": (images[:10], "header truncated"),
        "truncated-payload": (labels[:-1], "truncated"),
        "trailing-bytes": (labels + b"\x00\x00", "trailing"),
    }


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("case", list(_corrupt_cases()))
def test_corrupt_file_raises(tmp_path: Path, suffix: str, case: str) -> None:
    data, message = _corrupt_cases()[case]
    path = _write_raw(tmp_path / f"{case}{suffix}", data)
    with pytest.raises(IDXFormatError, match=message) as info:
        read_idx(path)
    assert info.value.path == path
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_wrong_dimension_count(tmp_path: Path) -> None:
    # A labels file where images are expected (a mislabelled download), and vice versa.
    labels = _write_raw(tmp_path / "labels", _idx_bytes(_labels(4)))
    images = _write_raw(tmp_path / "images", _idx_bytes(_images(4)))
    with pytest.raises(IDXFormatError, match=r"1 dimension.*expected 3.*labels file"):
        read_idx(labels, ndim=3)
    with pytest.raises(IDXFormatError, match="expected 1"):
        load_idx_pair(images, images)
    with pytest.raises(IDXFormatError, match="expected 3"):
        load_idx_pair(labels, labels)


def test_wrong_dtype(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_idx(path, np.zeros(3, np.float32))
    with pytest.raises(IDXFormatError, match=r"float32.*expected uint8"):
        read_idx(path, dtype=np.uint8)


@pytest.mark.parametrize("how", ["cut-stream", "flipped-bytes", "bad-crc", "garbage-after"])
def test_broken_gzip(tmp_path: Path, how: str) -> None:
    packed = bytearray(gzip.compress(_idx_bytes(_images(3))))
    if how == "cut-stream":
        packed = packed[: len(packed) // 2]
    elif how == "flipped-bytes":
        packed[20:40] = bytes(20)
    elif how == "bad-crc":
        packed[-8] ^= 0xFF
    else:
        packed += b"not gzip at all"
    path = tmp_path / "broken.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(IDXFormatError, match=r"broken\.gz") as info:
        read_idx(path)
    # Damaged deflate data may also decode to a nonsense header: any precise reason will do.
    assert any(word in info.value.reason for word in ("gzip", "truncated", "trailing"))


def test_absurd_header_in_gzip_fails_before_allocating(tmp_path: Path) -> None:
    # 2**31 x 2**31 x 255 bytes: must be rejected from the header, not by a MemoryError.
    header = b"\x00\x00\x08\x03" + np.array([2**31, 2**31, 255], ">u4").tobytes()
    path = _write_raw(tmp_path / "huge.gz", header + bytes(100))
    with pytest.raises(IDXFormatError, match="more than"):
        read_idx(path)


def test_count_mismatch(tmp_path: Path) -> None:
    write_idx(tmp_path / "i.gz", _images(5))
    write_idx(tmp_path / "l.gz", _labels(4))
    with pytest.raises(IDXFormatError, match="4 labels for 5 images") as info:
        load_idx_pair(tmp_path / "i.gz", tmp_path / "l.gz")
    assert info.value.path == tmp_path / "l.gz"


def test_load_idx_pair_max_label(tmp_path: Path) -> None:
    labels = _labels(5)
    labels[3] = 42
    write_idx(tmp_path / "i", _images(5))
    write_idx(tmp_path / "l", labels)
    # Non-MNIST data is only format-checked by default ...
    assert load_idx_pair(tmp_path / "i", tmp_path / "l")[1][3] == 42
    # ... and range-checked on request.
    with pytest.raises(IDXFormatError, match=r"label 42.*index 3"):
        load_idx_pair(tmp_path / "i", tmp_path / "l", max_label=9)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# --------------------------------------------------------------------------------------
# MNIST folders without network
# --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test here may see the real data set or the user's cache."""
    monkeypatch.delenv("ANYARRAY_NN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_synthetic_folder(tmp_path: Path, suffix: str) -> None:
    sums = _synthetic_folder(tmp_path / "d", suffix)
    mnist = load_mnist(tmp_path / "d", download=False, checksums=sums)
    assert mnist.train_images.shape == (N_TRAIN, 28, 28)
    assert mnist.test_labels.shape == (N_TEST,)
    assert mnist.source == tmp_path / "d"
    np.testing.assert_array_equal(mnist.train_images, _images(N_TRAIN, 1))
    np.testing.assert_array_equal(mnist.test_labels, _labels(N_TEST, 4))
    assert "MNIST(train=(12, 28, 28)" in repr(mnist)
    with pytest.raises(AttributeError):
        mnist.source = Path()  # type: ignore[misc]  # frozen


def test_verify_rejects_non_mnist_content(tmp_path: Path) -> None:
    # Canonical names but not the real MNIST: verify=True (default sums) must refuse it.
    _synthetic_folder(tmp_path / "d")
    with pytest.raises(ChecksumError) as info:
        load_mnist(tmp_path / "d", download=False)
    error = info.value
    assert error.path == tmp_path / "d" / "train-images-idx3-ubyte.gz"
    assert error.expected == "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    assert error.actual in str(error) and error.expected in str(error)
    assert "train-images-idx3-ubyte.gz" in str(error)
    # ... while verify=False accepts MNIST-format data.
    assert load_mnist(tmp_path / "d", download=False, verify=False).train_labels.size == N_TRAIN


def test_variant_names(tmp_path: Path) -> None:
    folder = tmp_path / "kaggle"
    sums = _synthetic_folder(folder, suffix="")
    for stem in MNIST_FILES:
        (folder / stem).rename(folder / stem.replace("-idx", ".idx"))
    assert find_mnist_files(folder)["train-images-idx3-ubyte"].name == "train-images.idx3-ubyte"
    mnist = load_mnist(folder, download=False, checksums=sums)
    np.testing.assert_array_equal(mnist.train_labels, _labels(N_TRAIN, 2))


def test_labels_above_nine_in_mnist_file(tmp_path: Path) -> None:
    labels = _labels(N_TRAIN, 2)
    labels[5] = 10
    _synthetic_folder(tmp_path / "d", train_labels_idx1_ubyte=labels)
    with pytest.raises(IDXFormatError, match=r"label 10.*exceeds 9") as info:
        load_mnist(tmp_path / "d", download=False, verify=False)
    assert info.value.path.name == "train-labels-idx1-ubyte.gz"


def test_mnist_count_mismatch(tmp_path: Path) -> None:
    _synthetic_folder(tmp_path / "d", t10k_labels_idx1_ubyte=_labels(N_TEST + 1))
    with pytest.raises(IDXFormatError, match="7 labels for 6 images"):
        load_mnist(tmp_path / "d", download=False, verify=False)


def test_mnist_wrong_image_size(tmp_path: Path) -> None:
    small = np.zeros((N_TRAIN, 8, 8), np.uint8)
    _synthetic_folder(tmp_path / "d", train_images_idx3_ubyte=small)
    with pytest.raises(IDXFormatError, match=r"\(8, 8\) pixels"):
        load_mnist(tmp_path / "d", download=False, verify=False)


def test_mislabelled_mnist_file(tmp_path: Path) -> None:
    # The labels file saved under the images name.
    _synthetic_folder(tmp_path / "d", train_images_idx3_ubyte=_labels(N_TRAIN))
    with pytest.raises(IDXFormatError, match="labels file"):
        load_mnist(tmp_path / "d", download=False, verify=False)


def test_missing_without_download(tmp_path: Path) -> None:
    _synthetic_folder(tmp_path / "d")
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MNISTNotFoundError, match="lacks t10k-labels-idx1-ubyte") as info:
        load_mnist(tmp_path / "d", download=False)
    assert isinstance(info.value, FileNotFoundError)
    for hint in ("load_mnist(", "ANYARRAY_NN_DATA=", "--data-dir", "download=True"):
        assert hint in str(info.value)
    # The default: the (empty) cache, no download allowed.
    with pytest.raises(MNISTNotFoundError, match="cache folder"):
        load_mnist(download=False)


def test_env_var_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sums = _synthetic_folder(tmp_path / "d")
    monkeypatch.setenv("ANYARRAY_NN_DATA", str(tmp_path / "d"))
    assert load_mnist(download=False, checksums=sums).source == tmp_path / "d"
    # An explicit folder wins over the variable.
    sums2 = _synthetic_folder(tmp_path / "e", suffix="")
    assert load_mnist(tmp_path / "e", checksums=sums2).source == tmp_path / "e"


def test_env_var_pointing_nowhere_never_downloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANYARRAY_NN_DATA", str(tmp_path / "typo"))
    # download=True, yet the variable names the data's location: a loud error, no network.
    with pytest.raises(MNISTNotFoundError, match=r"ANYARRAY_NN_DATA.*does not exist"):
        load_mnist(mirrors=["http://127.0.0.1:9/"])
    assert not (tmp_path / "typo").exists()


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "anyarray_nn" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "anyarray_nn" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "anyarray_nn" / "mnist"


def test_cache_dir_argument(tmp_path: Path) -> None:
    sums = _synthetic_folder(tmp_path / "cache")
    mnist = load_mnist(cache_dir=tmp_path / "cache", download=False, checksums=sums)
    assert mnist.source == tmp_path / "cache"


def test_unknown_checksum_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown MNIST file name"):
        load_mnist(tmp_path, checksums={"train-images": "00"})


# --------------------------------------------------------------------------------------
# train/validation split
# --------------------------------------------------------------------------------------


def _split_data(n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


@pytest.mark.parametrize(("size", "n_val"), [(10, 10), (0.2, 10), (0, 0), (0.0, 0), (49, 49)])
def test_split_sizes_and_partition(size: float, n_val: int) -> None:
    images, labels = _split_data()
    x_tr, y_tr, x_val, y_val = train_validation_split(images, labels, size, seed=3)
    assert len(x_val) == len(y_val) == n_val
    assert len(x_tr) == len(y_tr) == 50 - n_val
    # Every sample exactly once, image and label still paired.
    ids = np.concatenate([x_tr[:, 0, 0], x_val[:, 0, 0]]) // 4
    assert sorted(ids.tolist()) == list(range(50))
    np.testing.assert_array_equal(np.concatenate([y_tr, y_val]), ids % 10)


def test_split_is_seeded() -> None:
    images, labels = _split_data()
    a = train_validation_split(images, labels, 0.3, seed=7)
    b = train_validation_split(images, labels, 0.3, seed=7)
    c = train_validation_split(images, labels, 0.3, seed=8)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[2], c[2])
    generator = train_validation_split(images, labels, 0.3, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(generator[2], a[2])


def test_split_returns_copies() -> None:
    images, labels = _split_data()
    x_tr, _, _, _ = train_validation_split(images, labels, 5, seed=0)
    x_tr[...] = 0
    assert images.any()


@pytest.mark.parametrize("size", [-1, 50, 51, 1.0, -0.1, 1.5, 0.999, True, "10", None])
def test_split_bad_sizes(size: object) -> None:
    images, labels = _split_data()
    with pytest.raises(ValueError, match="validation_size"):
        train_validation_split(images, labels, size, seed=0)  # type: ignore[arg-type]


def test_split_length_mismatch() -> None:
    images, labels = _split_data()
    with pytest.raises(ValueError, match="50 images but 49 labels"):
        train_validation_split(images, labels[:-1], 5)
