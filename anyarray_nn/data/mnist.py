"""Find, download, verify and load MNIST (host side, NumPy only).

Where the data comes from, in this order (:func:`load_mnist`):

1. the folder passed as ``data_dir`` (missing files are downloaded into it when
   ``download=True``);
2. the folder named by the environment variable ``ANYARRAY_NN_DATA`` (it must hold the
   data: a variable that points at the wrong place is an error, never a silent download);
3. the per-user cache, ``$XDG_CACHE_HOME/anyarray_nn/mnist`` or
   ``~/.cache/anyarray_nn/mnist``;
4. a download over HTTPS from public mirrors into that cache.

Every canonical MNIST file is verified by the SHA-256 of its *decompressed* IDX bytes, so
the original ``.gz`` downloads, recompressed copies and uncompressed files all pass.

Examples
--------
>>> from anyarray_nn.data.mnist import load_mnist   # doctest: +SKIP
>>> mnist = load_mnist()                              # doctest: +SKIP
>>> mnist.train_images.shape, mnist.test_labels.shape  # doctest: +SKIP
((60000, 28, 28), (10000,))
"""

from __future__ import annotations

import http.client
import logging
import os
import sys
import types
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backend import host_rng
from .idx import IDXFormatError, PathLike, _read_idx, atomic_output, check_labels, finish_file

__all__ = [
    "DATA_ENV_VAR",
    "MNIST",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "ChecksumError",
    "DownloadError",
    "MNISTNotFoundError",
    "default_cache_dir",
    "download_mnist",
    "find_mnist_files",
    "load_mnist",
    "train_validation_split",
]

logger = logging.getLogger(__name__)

#: Environment variable naming a folder that holds the four MNIST files.
DATA_ENV_VAR = "ANYARRAY_NN_DATA"

#: Canonical MNIST file names (without ``.gz``), in download order.
MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: SHA-256 of the *decompressed* bytes of each canonical MNIST file.
MNIST_SHA256: Mapping[str, str] = types.MappingProxyType(
    {
        "train-images-idx3-ubyte": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),  # 47040016 bytes
        "train-labels-idx1-ubyte": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),  # 60008 bytes
        "t10k-images-idx3-ubyte": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),  # 7840016 bytes
        "t10k-labels-idx1-ubyte": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),  # 10008 bytes
    }
)

#: Public mirrors serving ``<name>.gz`` for every canonical name, tried in order.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IMAGE_SHAPE = (28, 28)
_MAX_LABEL = 9
_USER_AGENT = "anyarray_nn (MNIST loader; +https://github.com/)"
_DOWNLOAD_CHUNK = 1 << 16

_HOW_TO_POINT = (
    "To use MNIST files you already have (e.g. on a machine without network), put the four "
    "files ({names}, plain or .gz) in a folder and point the loader at it: "
    'load_mnist(data_dir="path/to/mnist"), the environment variable {env}=path/to/mnist, or the '
    "command-line option --data-dir path/to/mnist."
).format(names=", ".join(MNIST_FILES), env=DATA_ENV_VAR)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


class ChecksumError(ValueError):
    """A file's decompressed content does not have the expected SHA-256.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    expected, actual : str
        Hex SHA-256 digests of the decompressed IDX bytes.
    """

    def __init__(self, path: PathLike, expected: str, actual: str) -> None:
        self.path = Path(path)
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{self.path}: SHA-256 of the decompressed IDX bytes is {actual}, expected "
            f"{expected}. The file is corrupted or is not the original MNIST; delete it to "
            "download it again, or pass verify=False for other MNIST-format data."
        )


class DownloadError(OSError):
    """A file could not be downloaded from any mirror.

    Attributes
    ----------
    name : str
        The file that failed (e.g. ``"train-images-idx3-ubyte.gz"``).
    failures : list of (str, str)
        ``(url, what went wrong)`` for each mirror tried, in order.
    """

    def __init__(self, filename: str, failures: list[tuple[str, str]]) -> None:
        # Not OSError's ``filename`` slot: setting it would change how str() formats.
        self.name = filename
        self.failures = failures
        lines = "\n".join(f"  - {url}: {why}" for url, why in failures)
        message = f"could not download {filename} from any mirror:\n{lines}\n{_HOW_TO_POINT}"
        super().__init__(message)


class MNISTNotFoundError(FileNotFoundError):
    """MNIST is not where the loader was told to look and may not be downloaded."""

    # A single-argument OSError prints just its message, which here includes the fix.


# --------------------------------------------------------------------------------------
# the data set
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# locating files
# --------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The per-user cache folder for MNIST.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/anyarray_nn/mnist`` when that variable holds an absolute path
        (the XDG specification says to ignore relative ones), else
        ``~/.cache/anyarray_nn/mnist``.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "anyarray_nn" / "mnist"


def _candidate_names(stem: str) -> list[str]:
    # "train-images-idx3-ubyte" -> also "train-images.idx3-ubyte", a common variant of the
    # names (e.g. on Kaggle).  Uncompressed first: it is faster to read.
    variant = stem.replace("-idx", ".idx", 1)
    return [stem, f"{stem}.gz", variant, f"{variant}.gz"]


def find_mnist_files(folder: PathLike) -> dict[str, Path]:
    """Find the MNIST files present in a folder.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder to search (not recursively).

    Returns
    -------
    dict of str to pathlib.Path
        Canonical name (e.g. ``"train-images-idx3-ubyte"``) -> the file found for it:
        ``<name>``, ``<name>.gz``, or the variant spelling ``train-images.idx3-ubyte``
        (plain or ``.gz``).  Names with no file are absent.
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    for stem in MNIST_FILES:
        for name in _candidate_names(stem):
            candidate = folder / name
            if candidate.is_file():
                found[stem] = candidate
                break
    return found


def _check_sha(path: Path, stem: str, actual: str | None, checksums: Mapping[str, str]) -> None:
    expected = checksums.get(stem)
    if expected is not None and actual != expected.lower():
        raise ChecksumError(path, expected.lower(), str(actual))


def _load_folder(
    folder: Path, files: Mapping[str, Path], verify: bool, checksums: Mapping[str, str]
) -> MNIST:
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "t10k"):
        images_stem, labels_stem = f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"
        images_path, labels_path = files[images_stem], files[labels_stem]
        images, images_sha = _read_idx(images_path, ndim=3, dtype=np.uint8, want_sha256=verify)
        labels, labels_sha = _read_idx(labels_path, ndim=1, dtype=np.uint8, want_sha256=verify)
        if verify:
            _check_sha(images_path, images_stem, images_sha, checksums)
            _check_sha(labels_path, labels_stem, labels_sha, checksums)
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


def _merged_checksums(checksums: Mapping[str, str] | None) -> Mapping[str, str]:
    if checksums is None:
        return MNIST_SHA256
    unknown = set(checksums) - set(MNIST_FILES)
    if unknown:
        raise ValueError(f"unknown MNIST file name(s) in checksums: {sorted(unknown)}")
    return {**MNIST_SHA256, **checksums}


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
    sums = _merged_checksums(checksums)
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
    return f"{message} {_HOW_TO_POINT}"


# --------------------------------------------------------------------------------------
# downloading
# --------------------------------------------------------------------------------------


class _IncompleteDownloadError(OSError):
    """The server closed the connection before sending all the bytes it announced."""


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, TimeoutError):
        detail = str(exc)
        return "timed out" if detail in ("", "timed out") else f"timed out ({detail})"
    if isinstance(exc, _IncompleteDownloadError):
        return f"interrupted: {exc}"
    if isinstance(exc, ChecksumError):
        return f"checksum mismatch: SHA-256 {exc.actual}, expected {exc.expected}"
    if isinstance(exc, IDXFormatError):
        return f"not a valid IDX file: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _fetch(
    url: str, destination: Path, stem: str, expected_sha: str | None, show: bool, timeout: float
) -> None:
    """Download ``url`` to ``destination`` via a temporary file; verify before renaming."""
    from tqdm.auto import tqdm  # only needed for downloads

    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with (
        urllib.request.urlopen(request, timeout=timeout) as response,
        atomic_output(destination) as (file, tmp),
    ):
        length = response.headers.get("Content-Length")
        total = int(length) if length is not None and length.isdigit() else None
        received = 0
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=destination.name,
            disable=not show,
            file=sys.stderr,
        ) as bar:
            while chunk := response.read(_DOWNLOAD_CHUNK):
                file.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        # http.client does not complain when the connection closes early: check ourselves.
        if total is not None and received != total:
            raise _IncompleteDownloadError(f"connection closed after {received} of {total} bytes")
        finish_file(file)
        ndim = 3 if "-images-" in stem else 1
        _, actual = _read_idx(tmp, ndim=ndim, dtype=np.uint8, want_sha256=True)
        if expected_sha is not None:
            _check_sha(destination, stem, actual, {stem: expected_sha})


def _check_mirrors(mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is None:
        return list(MNIST_MIRRORS)
    if isinstance(mirrors, str):  # a lone URL, not a sequence of characters
        mirrors = [mirrors]
    result = list(mirrors)
    if not result:
        raise ValueError("mirrors must name at least one base URL")
    for base in result:
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            raise ValueError(f"mirror {base!r} is not an http(s) URL")
    return result


def download_mnist(
    dest_dir: PathLike | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    progress: bool | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the MNIST files that are missing from a folder.

    Each file ``<name>.gz`` is fetched from the first mirror that serves it, written to a
    temporary file in ``dest_dir``, format-checked and verified, and only then renamed to
    its final name.  A failed, interrupted or mismatching download leaves no file behind
    and moves on to the next mirror.

    Parameters
    ----------
    dest_dir : str or os.PathLike, optional
        Target folder (created if needed); default :func:`default_cache_dir`.
    mirrors : sequence of str, optional
        Base URLs to try in order instead of :data:`MNIST_MIRRORS`.
    progress : bool, optional
        Show a progress bar; by default only when stderr is a terminal.
    checksums : mapping of str to str, optional
        Expected SHA-256 of the decompressed bytes by canonical name, overriding
        :data:`MNIST_SHA256` (e.g. for tests with synthetic files).
    timeout : float, default 30
        Socket timeout in seconds for connecting and for each read.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    DownloadError
        All mirrors failed for a file; the message lists each mirror's failure and how to
        use local files instead.
    """
    folder = Path(dest_dir).expanduser() if dest_dir is not None else default_cache_dir()
    bases = _check_mirrors(mirrors)
    sums = _merged_checksums(checksums)
    show = _show_progress(progress)
    present = find_mnist_files(folder) if folder.is_dir() else {}
    todo = [stem for stem in MNIST_FILES if stem not in present]
    if todo:
        folder.mkdir(parents=True, exist_ok=True)
    for stem in todo:
        filename = f"{stem}.gz"
        failures: list[tuple[str, str]] = []
        for base in bases:
            url = urllib.parse.urljoin(base if base.endswith("/") else base + "/", filename)
            try:
                _fetch(url, folder / filename, stem, sums.get(stem), show, timeout)
            except urllib.error.HTTPError as exc:
                exc.close()  # it holds the response socket open otherwise
                failures.append((url, _describe(exc)))
            except (OSError, http.client.HTTPException, ValueError) as exc:
                # OSError covers URLError, timeouts, resets and our incomplete-read check;
                # ValueError covers ChecksumError and IDXFormatError.
                failures.append((url, _describe(exc)))
            else:
                # A mirror that worked is the best bet for the remaining files.
                bases.remove(base)
                bases.insert(0, base)
                break
            logger.warning("downloading %s failed: %s", url, failures[-1][1])
        else:
            raise DownloadError(filename, failures)
    return folder


# --------------------------------------------------------------------------------------
# validation split
# --------------------------------------------------------------------------------------


def train_validation_split(
    images: np.ndarray,
    labels: np.ndarray,
    validation_size: int | float,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out a random validation set from the training data, on the host.

    Model selection (early stopping, hyper-parameters) must use this validation set, never
    the MNIST test set: the test set is only for the final, once-only estimate of accuracy.

    Parameters
    ----------
    images : numpy.ndarray
        Training images, first axis = samples.
    labels : numpy.ndarray
        Training labels, same length as ``images``.
    validation_size : int or float
        Number of validation samples (``0 <= n < N``), or a fraction in ``[0, 1)`` of the
        samples (rounded to the nearest count).  ``0`` gives an empty validation set.
    seed : int, numpy.random.Generator or None, default 0
        Seed of the ``numpy.random.Generator`` that draws the permutation; the same seed
        gives the same split.  ``None`` draws a fresh, irreproducible split.

    Returns
    -------
    train_images, train_labels, val_images, val_labels : numpy.ndarray
        New arrays (copies); together they hold every sample exactly once.

    Raises
    ------
    ValueError
        ``images`` and ``labels`` differ in length, or ``validation_size`` is negative,
        not below the number of samples (or 1 as a fraction), or not a number.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    n = len(images)
    if len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} labels")
    if isinstance(validation_size, (bool, np.bool_)):
        raise ValueError(f"validation_size must be a count or a fraction, got {validation_size}")
    if isinstance(validation_size, (int, np.integer)):
        n_val = int(validation_size)
        if not 0 <= n_val < n:
            raise ValueError(
                f"validation_size={n_val} must be at least 0 and below the {n} samples "
                "(some must remain for training)"
            )
    elif isinstance(validation_size, (float, np.floating)):
        fraction = float(validation_size)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"validation_size={fraction} as a fraction must be in [0, 1)")
        n_val = round(fraction * n)
        if n_val >= n:
            raise ValueError(f"validation_size={fraction} leaves no training samples out of {n}")
    else:
        raise ValueError(
            f"validation_size must be an int count or a float fraction, "
            f"got {type(validation_size).__name__}"
        )
    order = host_rng(seed).permutation(n)
    val_idx, train_idx = order[:n_val], order[n_val:]
    return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]
