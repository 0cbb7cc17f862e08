"""Image data sets by name (MNIST, Fashion-MNIST, KMNIST) and any folder of IDX file pairs.

Every named set (:mod:`anyarray_nn.data.catalog`) is four IDX files with MNIST's canonical
names, downloaded into the cache (``$XDG_CACHE_HOME/anyarray_nn/<name>`` or
``~/.cache/anyarray_nn/<name>``) on first use and verified by SHA-256 like MNIST
(:mod:`anyarray_nn.data.mnist`, whose download and checks this module reuses): of the
decompressed bytes, or for KMNIST of the ``.gz`` archives as published.  Any other folder of
IDX pairs (images of any size, any number of classes) loads with ``verify=False``: then the
files are only format-checked.

Examples
--------
>>> from anyarray_nn.data import load_dataset                # doctest: +SKIP
>>> fashion = load_dataset("fashion-mnist")                   # doctest: +SKIP
>>> fashion.class_names[:3], fashion.n_classes                # doctest: +SKIP
(('T-shirt/top', 'Trouser', 'Pullover'), 10)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import DATASET_NAMES, DATASETS, FASHION_MNIST_SHA256, KMNIST_ARCHIVES, DatasetInfo
from .download import DownloadError, download_mnist
from .idx import IDXFormatError, PathLike, _read_idx, check_labels
from .mnist import load_mnist
from .mnist_files import (
    DATA_ENV_VAR,
    MNIST_FILES,
    ArchiveDigest,
    MNISTNotFoundError,
    check_archive,
    check_sha256,
    default_cache_dir,
    find_mnist_files,
)

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "FASHION_MNIST_SHA256",
    "KMNIST_ARCHIVES",
    "Dataset",
    "DatasetInfo",
    "find_idx_files",
    "load_dataset",
    "load_idx_folder",
]


_SPLIT_PATTERNS = {  # other spellings of the four files (e.g. EMNIST's), tried in order
    "train-images-idx3-ubyte": ("*train*images*idx3*",),
    "train-labels-idx1-ubyte": ("*train*labels*idx1*",),
    "t10k-images-idx3-ubyte": ("*t10k*images*idx3*", "*test*images*idx3*"),
    "t10k-labels-idx1-ubyte": ("*t10k*labels*idx1*", "*test*labels*idx1*"),
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """An image classification data set as host NumPy arrays.

    Attributes
    ----------
    train_images, test_images : numpy.ndarray of uint8, shape (n, H, W)
    train_labels, test_labels : numpy.ndarray of uint8, shape (n,)
    source : pathlib.Path
        The folder the files were read from.
    name : str or None
        The data set's name, ``None`` for an unnamed folder.
    class_names : tuple of str
        One name per class (the label values as text for an unnamed folder).
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path
    name: str | None
    class_names: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        """Number of classes: ``max(label) + 1`` over both splits (or the named set's)."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of one image."""
        return (int(self.train_images.shape[1]), int(self.train_images.shape[2]))

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.train_images.shape}, "
            f"test={self.test_images.shape}, classes={self.n_classes}, "
            f"source={str(self.source)!r})"
        )


def find_idx_files(folder: PathLike) -> dict[str, Path]:
    """The four files of an IDX folder: canonical names first, then other spellings.

    Raises
    ------
    IDXFormatError
        Two files match the same role (e.g. two ``*train*images*idx3*`` files).
    """
    folder = Path(folder)
    found = find_mnist_files(folder) if folder.is_dir() else {}
    for stem in MNIST_FILES:
        if stem in found or not folder.is_dir():
            continue
        for pattern in _SPLIT_PATTERNS[stem]:
            matches = sorted(p for p in folder.glob(pattern) if p.is_file())
            if len(matches) > 1:
                names = ", ".join(p.name for p in matches)
                raise IDXFormatError(folder, f"several files could be {stem}: {names}")
            if matches:
                found[stem] = matches[0]
                break
    return found


def load_idx_folder(
    folder: PathLike,
    *,
    checksums: Mapping[str, str] | None = None,
    name: str | None = None,
    class_names: Sequence[str] | None = None,
    archives: Mapping[str, ArchiveDigest] | None = None,
) -> Dataset:
    """Load a folder of training and test IDX pairs: any image size, any number of classes.

    Parameters
    ----------
    folder : str or os.PathLike
        Holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each plain or ``.gz``;
        other spellings such as ``emnist-letters-test-images-idx3-ubyte.gz`` are found too).
    checksums : mapping of str to str, optional
        Expected SHA-256 of the decompressed bytes by canonical name; ``None``: format
        checks only.
    name : str, optional
    class_names : sequence of str, optional
        Default: the label values as text, ``"0"`` to ``str(max(label))``.
    archives : mapping of str to ArchiveDigest, optional
        Expected size and SHA-256 of each ``.gz`` file as published, by canonical name,
        checked before the file is decompressed; ``None``: no such check.

    Raises
    ------
    MNISTNotFoundError
        A file is missing.
    ChecksumError
        A file's content differs from ``checksums`` or ``archives``.
    IDXFormatError
        A malformed file, mismatched counts, or test images of another size.
    """
    folder = Path(folder).expanduser()
    files = find_idx_files(folder)
    if archives is not None:  # only the archives can be checked: prefer them to plain copies
        files = {stem: _archive_beside(path) for stem, path in files.items()}
    missing = [stem for stem in MNIST_FILES if stem not in files]
    if missing:
        where = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
        raise MNISTNotFoundError(f"IDX folder {folder} {where} (plain or .gz)")
    arrays = {stem: _read(files[stem], stem, checksums, archives) for stem in MNIST_FILES}
    train_x, train_y, test_x, test_y = (arrays[stem] for stem in MNIST_FILES)
    check_labels(files[MNIST_FILES[1]], train_y, len(train_x), None)
    check_labels(files[MNIST_FILES[3]], test_y, len(test_x), None)
    if test_x.shape[1:] != train_x.shape[1:]:
        raise IDXFormatError(
            files[MNIST_FILES[2]],
            f"test images are {test_x.shape[1:]}, training images {train_x.shape[1:]}",
        )
    n_classes = int(max(train_y.max(initial=0), test_y.max(initial=0))) + 1
    names = tuple(class_names) if class_names is not None else ()
    if len(names) < n_classes:
        names = tuple(str(c) for c in range(n_classes))
    return Dataset(train_x, train_y, test_x, test_y, folder, name, names)


def _archive_beside(path: Path) -> Path:
    archive = path.with_name(path.name + ".gz")
    return archive if path.suffix != ".gz" and archive.is_file() else path


def _read(
    path: Path,
    stem: str,
    checksums: Mapping[str, str] | None,
    archives: Mapping[str, ArchiveDigest] | None,
) -> np.ndarray:
    if archives is not None:
        check_archive(path, stem, archives)  # before a byte is decompressed
    ndim = 3 if "-images-" in stem else 1
    array, sha = _read_idx(path, ndim=ndim, dtype=np.uint8, want_sha256=checksums is not None)
    if checksums is not None:
        check_sha256(path, stem, sha, checksums)
    return array


def dataset_cache_dir(name: str) -> Path:
    """The cache folder of a named data set (MNIST's is :func:`default_cache_dir`)."""
    return default_cache_dir().parent / name


def _info(name: str) -> DatasetInfo:
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    return DATASETS[key]


def load_dataset(
    name: str | None = None,
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    mirrors: Sequence[str] | None = None,
    progress: bool | None = None,
    cache_dir: PathLike | None = None,
    timeout: float = 30.0,
) -> Dataset:
    """Load a named data set (downloading, verifying and caching it) or an IDX folder.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "kmnist"}, optional
        The data set.  ``None``: MNIST when verifying; with ``verify=False`` and a
        ``data_dir``, whatever IDX data the folder holds (class names are then the label
        values).
    data_dir : str or os.PathLike, optional
        Folder holding the four files; missing ones are downloaded into it (named sets).
        Default: for MNIST as :func:`load_mnist` (``ANYARRAY_NN_DATA``, then the cache);
        for the others their cache folder, ``<cache>/anyarray_nn/<name>``.
    download : bool, default True
        Whether missing files of a named set may be downloaded.
    verify : bool, default True
        Check every file against the set's SHA-256 (of the decompressed bytes; for KMNIST,
        of the ``.gz`` files as published, so only the original archives pass).  ``False``:
        only format checks (for other data in the same format, or a decompressed copy of
        KMNIST; ``--no-verify`` on the command line).
    mirrors : sequence of str, optional
        Base URLs to download from instead of the set's own.
    progress : bool, optional
        A download progress bar; by default only on a terminal.
    cache_dir : str or os.PathLike, optional
        Cache folder for this set instead of the default one.
    timeout : float, default 30
        Socket timeout of a download, in seconds.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        An unknown name, or ``verify=True`` for a set whose checksums are not recorded.
    MNISTNotFoundError, DownloadError, ChecksumError, IDXFormatError
        As for :func:`anyarray_nn.data.load_mnist`.
    """
    if name is None and not verify and data_dir is not None:
        return load_idx_folder(data_dir)
    info = _info(name or "mnist")
    if info.name == "mnist" and verify:
        mnist = load_mnist(
            data_dir,
            download=download,
            mirrors=mirrors,
            progress=progress,
            cache_dir=cache_dir,
            timeout=timeout,
        )
        return Dataset(*_splits(mnist), mnist.source, "mnist", info.class_names)
    if verify and not info.verifiable:
        raise ValueError(
            f"no SHA-256 is recorded for {info.name} in this version: load it with "
            "verify=False (command line: --no-verify); the files are then format-checked only"
        )
    if data_dir is None and info.name == "mnist" and os.environ.get(DATA_ENV_VAR):
        data_dir, download = os.environ[DATA_ENV_VAR], False  # as load_mnist: never written
    folder = Path(data_dir or cache_dir or dataset_cache_dir(info.name)).expanduser()
    present = find_idx_files(folder)
    if any(stem not in present for stem in MNIST_FILES):
        if not download:
            return load_idx_folder(folder)  # raises the not-found error with the details
        sums = dict(info.sha256) if info.sha256 else dict.fromkeys(MNIST_FILES)
        try:
            download_mnist(
                folder,
                mirrors=mirrors or info.mirrors,
                progress=progress,
                checksums=sums,
                timeout=timeout,
                archives=info.archives,
            )
        except DownloadError as exc:  # the way out names this set, not MNIST
            raise DownloadError(exc.name, exc.failures, _how_to_point(info)) from None
    return load_idx_folder(
        folder,
        checksums=info.sha256 if verify else None,
        name=info.name,
        class_names=info.class_names,
        archives=info.archives if verify else None,
    )


def _how_to_point(info: DatasetInfo) -> str:
    names = ", ".join(MNIST_FILES)
    return (
        f"To use {info.name} files you already have (e.g. on a machine without network), put "
        f"the four files ({names}, plain or .gz) in a folder and point the loader at it: "
        f'load_dataset("{info.name}", data_dir="path/to/{info.name}"), or the command-line '
        f"options --dataset {info.name} --data-dir path/to/{info.name}."
    )


def _splits(data: object) -> tuple[np.ndarray, ...]:
    return tuple(
        getattr(data, k) for k in ("train_images", "train_labels", "test_images", "test_labels")
    )
