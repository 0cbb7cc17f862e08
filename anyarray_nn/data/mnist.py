"""Load MNIST as host NumPy arrays, from a folder or the cache, downloading it if needed.

Where the data comes from, in this order (:func:`load_mnist`):

1. the folder passed as ``data_dir`` (missing files are downloaded into it when
   ``download=True``);
2. the folder named by the environment variable ``ANYARRAY_NN_DATA`` (it must hold the
   data: a variable that points at the wrong place is an error, never a silent download);
3. the per-user cache, ``$XDG_CACHE_HOME/anyarray_nn/mnist`` or
   ``~/.cache/anyarray_nn/mnist``;
4. a download over HTTPS from public mirrors into that cache.

The files themselves (names, checksums, cache folder) are described in
:mod:`anyarray_nn.data.mnist_files`, the download in :mod:`anyarray_nn.data.download`.

Examples
--------
>>> from anyarray_nn.data.mnist import load_mnist   # doctest: +SKIP
>>> mnist = load_mnist()                              # doctest: +SKIP
>>> mnist.train_images.shape, mnist.test_labels.shape  # doctest: +SKIP
((60000, 28, 28), (10000,))
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .download import download_mnist
from .idx import IDXFormatError, PathLike, _read_idx, check_labels
from .mnist_files import (
    DATA_ENV_VAR,
    HOW_TO_POINT,
    MNIST_FILES,
    MNISTNotFoundError,
    check_sha256,
    default_cache_dir,
    find_mnist_files,
    merged_checksums,
    size_limit,
)

__all__ = ["MNIST", "load_mnist"]

_IMAGE_SHAPE = (28, 28)
_MAX_LABEL = 9


@dataclass(frozen=True, eq=False)
class MNIST:
    """The MNIST data set as host NumPy arrays.

    Attributes
    ----------
    train_images : numpy.ndarray
        ``uint8``, shape ``(60000, 28, 28)``, pixel values 0..255.
    train_labels : numpy.ndarray
        ``uint8``, shape ``(60000,)``, digits 0..9.
    test_images : numpy.ndarray
        ``uint8``, shape ``(10000, 28, 28)``.
    test_labels : numpy.ndarray
        ``uint8``, shape ``(10000,)``.
    source : pathlib.Path
        The folder the files were read from.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path

    def __repr__(self) -> str:
        # The default repr would print four large arrays.
        return (
            f"MNIST(train={self.train_images.shape}, test={self.test_images.shape}, "
            f"source={str(self.source)!r})"
        )


def _load_folder(
    folder: Path, files: Mapping[str, Path], verify: bool, checksums: Mapping[str, str]
) -> MNIST:
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "t10k"):
        images_stem, labels_stem = f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"
        images_path, labels_path = files[images_stem], files[labels_stem]
        known = checksums if verify else {}  # exact sizes for the original files
        images, images_sha = _read_idx(
            images_path,
            ndim=3,
            dtype=np.uint8,
            want_sha256=verify,
            max_bytes=size_limit(images_stem, known),
        )
        labels, labels_sha = _read_idx(
            labels_path,
            ndim=1,
            dtype=np.uint8,
            want_sha256=verify,
            max_bytes=size_limit(labels_stem, known),
        )
        if verify:
            check_sha256(images_path, images_stem, images_sha, checksums)
            check_sha256(labels_path, labels_stem, labels_sha, checksums)
        if images.shape[1:] != _IMAGE_SHAPE:
            raise IDXFormatError(
                images_path, f"images are {images.shape[1:]} pixels, MNIST needs {_IMAGE_SHAPE}"
            )
        check_labels(labels_path, labels, len(images), _MAX_LABEL)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    return MNIST(
        train_images=arrays["train_images"],
        train_labels=arrays["train_labels"],
        test_images=arrays["t10k_images"],
        test_labels=arrays["t10k_labels"],
        source=folder,
    )


def load_mnist(
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    progress: bool | None = None,
    verify: bool = True,
    cache_dir: PathLike | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> MNIST:
    """Load MNIST as host ``uint8`` arrays, downloading it into the cache if needed.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder holding the four files (canonical names such as
        ``train-images-idx3-ubyte[.gz]``, or the variant ``train-images.idx3-ubyte[.gz]``).
        Missing files are downloaded into it when ``download`` is true.  When not given,
        the folder named by ``ANYARRAY_NN_DATA`` is used (it must hold the data), else the
        per-user cache (:func:`default_cache_dir`).
    download : bool, default True
        Whether missing files may be downloaded (into ``data_dir`` or the cache; never into
        the ``ANYARRAY_NN_DATA`` folder).
    mirrors : sequence of str, optional
        Base URLs to try in order instead of :data:`MNIST_MIRRORS`.
    progress : bool, optional
        Show a download progress bar; by default only when stderr is a terminal.
    verify : bool, default True
        Check every file against the SHA-256 of the original MNIST (decompressed bytes).
        Use ``False`` for other data in MNIST format (e.g. Fashion-MNIST); the files are
        then only format-checked.
    cache_dir : str or os.PathLike, optional
        Cache folder to use instead of :func:`default_cache_dir` (e.g. in tests).
    checksums : mapping of str to str, optional
        Override expected SHA-256 digests by canonical name (for tests and mirrors of
        derived data sets).
    timeout : float, default 30
        Socket timeout in seconds for each network operation of a download.

    Returns
    -------
    MNIST
        The four arrays and the folder they came from.

    Raises
    ------
    MNISTNotFoundError
        The data is missing and may not be downloaded (``download=False``, or
        ``ANYARRAY_NN_DATA`` points at a folder without it).  The message says how to fix it.
    DownloadError
        Every mirror failed for some file; the message lists each failure.
    ChecksumError
        A file's content differs from the original MNIST.
    IDXFormatError
        A file is truncated, corrupted, mislabelled or has labels above 9.
    """
    sums = merged_checksums(checksums)
    if data_dir is not None:
        folder, origin, may_download = Path(data_dir).expanduser(), "the folder given", download
    elif os.environ.get(DATA_ENV_VAR):
        folder = Path(os.environ[DATA_ENV_VAR]).expanduser()
        origin, may_download = f"the folder named by {DATA_ENV_VAR}", False
    else:
        folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        origin, may_download = "the cache folder", download

    files = find_mnist_files(folder)
    missing = [stem for stem in MNIST_FILES if stem not in files]
    if missing:
        if not may_download:
            raise MNISTNotFoundError(_not_found_message(folder, origin, missing, download))
        download_mnist(folder, mirrors=mirrors, progress=progress, checksums=sums, timeout=timeout)
        files = find_mnist_files(folder)
    return _load_folder(folder, files, verify, sums)


def _not_found_message(folder: Path, origin: str, missing: list[str], download: bool) -> str:
    where = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
    message = f"MNIST not found: {origin}, {folder}, {where}."
    if origin.endswith(DATA_ENV_VAR):
        message += (
            f" Point {DATA_ENV_VAR} at a folder holding the four files, or unset it to use "
            "the cache (downloading MNIST there)."
        )
    elif not download:
        message += " Pass download=True to download it there."
    return f"{message} {HOW_TO_POINT}"
