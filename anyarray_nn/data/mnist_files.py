"""The canonical MNIST files: their names, checksums, and where to look for them.

Every canonical MNIST file is verified by the SHA-256 of its *decompressed* IDX bytes, so
the original ``.gz`` downloads, recompressed copies and uncompressed files all pass.  The
loader (:mod:`anyarray_nn.data.mnist`) and the downloader (:mod:`anyarray_nn.data.download`)
share what is here.
"""

from __future__ import annotations

import hashlib
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from .idx import PathLike

__all__ = [
    "DATA_ENV_VAR",
    "MNIST_BYTES",
    "MNIST_FILES",
    "MNIST_SHA256",
    "ArchiveDigest",
    "ChecksumError",
    "MNISTNotFoundError",
    "default_cache_dir",
    "find_mnist_files",
]

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

#: Decompressed size in bytes of each canonical MNIST file (header and payload).
MNIST_BYTES: Mapping[str, int] = types.MappingProxyType(
    {
        "train-images-idx3-ubyte": 47040016,
        "train-labels-idx1-ubyte": 60008,
        "t10k-images-idx3-ubyte": 7840016,
        "t10k-labels-idx1-ubyte": 10008,
    }
)

#: How to use local files instead of a download; ends every not-found and download error.
HOW_TO_POINT = (
    "To use MNIST files you already have (e.g. on a machine without network), put the four "
    "files ({names}, plain or .gz) in a folder and point the loader at it: "
    'load_mnist(data_dir="path/to/mnist"), the environment variable {env}=path/to/mnist, or the '
    "command-line option --data-dir path/to/mnist."
).format(names=", ".join(MNIST_FILES), env=DATA_ENV_VAR)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


class ArchiveDigest(NamedTuple):
    """Size and SHA-256 of a ``.gz`` file exactly as its publisher serves it."""

    size: int
    sha256: str


class ChecksumError(ValueError):
    """A file does not have the expected SHA-256.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    expected, actual : str
        Hex SHA-256 digests of what was checked: the decompressed IDX bytes, or for a data
        set verified by its archives, the ``.gz`` file as published (``actual`` is then
        empty when the size already differs).
    what : str
        What was checked, in words.
    """

    def __init__(
        self,
        path: PathLike,
        expected: str,
        actual: str,
        *,
        what: str = "the decompressed IDX bytes",
    ) -> None:
        self.path = Path(path)
        self.expected = expected
        self.actual = actual
        self.what = what
        found = (
            f"SHA-256 of {what} is {actual}, expected {expected}"
            if actual
            else f"not {what}, whose SHA-256 is {expected}"
        )
        super().__init__(
            f"{self.path}: {found}. The file is "
            "corrupted or is not the data set named; delete it to download it again, or load "
            "other data in this format without the check: verify=False in Python, "
            "--no-verify on the command line."
        )


class MNISTNotFoundError(FileNotFoundError):
    """MNIST is not where the loader was told to look and may not be downloaded."""

    # A single-argument OSError prints just its message, which here includes the fix.


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


def check_sha256(
    path: Path, stem: str, actual: str | None, checksums: Mapping[str, str | None]
) -> None:
    expected = checksums.get(stem)
    if expected is not None and actual != expected.lower():
        raise ChecksumError(path, expected.lower(), str(actual))


def file_sha256(path: Path, size: int) -> str:
    """The hex SHA-256 of a file's bytes, reading at most ``size`` + 1 of them."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while size >= 0 and (chunk := file.read(min(1 << 20, size + 1))):
            digest.update(chunk)
            size -= len(chunk)
    return digest.hexdigest()


def check_archive(path: Path, stem: str, archives: Mapping[str, ArchiveDigest]) -> None:
    """Check a file against the size and SHA-256 of the ``.gz`` archive as published.

    Run before the file is decompressed, so only the publisher's bytes are ever parsed.

    Raises
    ------
    ChecksumError
        The file is not that archive (another size or digest; a decompressed or
        recompressed copy is neither): the message says so and names ``--no-verify``.
    """
    expected = archives.get(stem)
    if expected is None:
        return
    size = path.stat().st_size
    what = "the .gz archive as published"
    if path.suffix != ".gz":  # a decompressed copy: its digest cannot be known here
        what += f" (only the original archive can be checked; this file is {path.name})"
    elif size != expected.size:
        what += f" ({expected.size} bytes; this file has {size}: recompressed or damaged?)"
    actual = file_sha256(path, size) if size == expected.size else ""
    if actual != expected.sha256.lower():
        raise ChecksumError(path, expected.sha256.lower(), actual, what=what)


def size_limit(stem: str, checksums: Mapping[str, str | None]) -> int | None:
    """The decompressed size a file of canonical name ``stem`` may have.

    Exactly :data:`MNIST_BYTES` when it is checked against the original MNIST checksum
    (a gzip bomb under that name is refused from its header); otherwise ``None``, the IDX
    reader's general limit (:data:`~anyarray_nn.data.idx.MAX_IDX_BYTES`).
    """
    if (checksums.get(stem) or "").lower() == MNIST_SHA256.get(stem):
        return MNIST_BYTES[stem]
    return None


def merged_checksums(checksums: Mapping[str, str | None] | None) -> Mapping[str, str | None]:
    if checksums is None:
        return MNIST_SHA256
    unknown = set(checksums) - set(MNIST_FILES)
    if unknown:
        raise ValueError(f"unknown MNIST file name(s) in checksums: {sorted(unknown)}")
    return {**MNIST_SHA256, **checksums}
