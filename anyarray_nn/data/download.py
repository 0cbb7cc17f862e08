"""Download MNIST over HTTPS from public mirrors, verified before it is kept.

Each file ``<name>.gz`` is fetched from the first mirror that serves it into a temporary
file in the target folder (:func:`anyarray_nn.files.atomic_write`), format-checked and
verified against its SHA-256, and only then renamed to its final name.

A server is untrusted: a download has a total deadline (all files and mirrors together)
and a size cap per file (the original files' known sizes, else :data:`MAX_DOWNLOAD_BYTES`),
both enforced while the bytes arrive, whether or not the server announces a length; a
failed download leaves nothing in the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_write
from .idx import IDXFormatError, PathLike, _read_idx
from .mnist_files import (
    HOW_TO_POINT,
    MNIST_FILES,
    ArchiveDigest,
    ChecksumError,
    check_sha256,
    default_cache_dir,
    find_mnist_files,
    merged_checksums,
    size_limit,
)

__all__ = [
    "DEFAULT_DEADLINE",
    "MAX_DOWNLOAD_BYTES",
    "MNIST_MIRRORS",
    "DownloadError",
    "download_mnist",
]

logger = logging.getLogger(__name__)

#: Public mirrors serving ``<name>.gz`` for every canonical name, tried in order.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Size cap of a downloaded file whose size is not known in advance (other data than the
#: original MNIST files).
MAX_DOWNLOAD_BYTES = 256 << 20
#: Default total deadline of :func:`download_mnist`, in seconds (MNIST is 11 MB).
DEFAULT_DEADLINE = 900.0

_USER_AGENT = "anyarray_nn (MNIST loader; +https://github.com/)"
_DOWNLOAD_CHUNK = 1 << 16


class DownloadError(OSError):
    """A file could not be downloaded from any mirror.

    Parameters
    ----------
    filename, failures
        As the attributes.
    how_to : str, optional
        The message's last sentence: how to use local files instead (MNIST's by default).

    Attributes
    ----------
    name : str
        The file that failed (e.g. ``"train-images-idx3-ubyte.gz"``).
    failures : list of (str, str)
        ``(url, what went wrong)`` for each mirror tried, in order.
    """

    def __init__(
        self, filename: str, failures: list[tuple[str, str]], how_to: str = HOW_TO_POINT
    ) -> None:
        # Not OSError's ``filename`` slot: setting it would change how str() formats.
        self.name = filename
        self.failures = failures
        lines = "\n".join(f"  - {url}: {why}" for url, why in failures)
        message = f"could not download {filename} from any mirror:\n{lines}\n{how_to}"
        super().__init__(message)


class _IncompleteDownloadError(OSError):
    """The server closed the connection before sending all the bytes it announced."""


class _TooLargeError(OSError):
    """The server sends (or announces) more bytes than the file may have."""


class _DeadlineError(TimeoutError):
    """The total deadline of the download passed."""


class _Budget:
    """The total deadline and a per-file size cap, checked as the bytes arrive."""

    def __init__(self, deadline: float | None, timeout: float) -> None:
        self.seconds = deadline
        self.end = None if deadline is None else time.monotonic() + float(deadline)
        self.timeout = float(timeout)

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    @property
    def message(self) -> str:
        return f"the deadline of {self.seconds:g} s for the download passed"

    def socket_timeout(self) -> float:
        """The timeout of the next socket operation: never past the deadline."""
        if self.end is None:
            return self.timeout
        left = self.end - time.monotonic()
        if left <= 0:
            raise _DeadlineError(self.message)
        return min(self.timeout, left)


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
    if isinstance(exc, (_DeadlineError, _TooLargeError)):
        return str(exc)
    if isinstance(exc, TimeoutError):
        detail = str(exc)
        return "timed out" if detail in ("", "timed out") else f"timed out ({detail})"
    if isinstance(exc, _IncompleteDownloadError):
        return f"interrupted: {exc}"
    if isinstance(exc, ChecksumError):
        actual = exc.actual or "not computed"
        return f"checksum mismatch: SHA-256 of {exc.what}: {actual}, expected {exc.expected}"
    if isinstance(exc, IDXFormatError):
        return f"not a valid IDX file: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _fetch(
    url: str,
    destination: Path,
    stem: str,
    expected_sha: str | None,
    archive: ArchiveDigest | None,
    show: bool,
    budget: _Budget,
    cap: int,
) -> None:
    """Download ``url`` to ``destination`` via a temporary file; verify before renaming.

    ``archive``: the bytes as served must have this size and SHA-256 (checked before they
    are decompressed); ``expected_sha``: the decompressed bytes must have this SHA-256.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with (
        urllib.request.urlopen(request, timeout=budget.socket_timeout()) as response,
        atomic_write(destination, "wb") as file,
    ):
        length = response.headers.get("Content-Length")
        total = int(length) if length is not None and length.isdigit() else None
        if total is not None and total > cap:
            raise _TooLargeError(f"the server announces {total} bytes, more than the {cap} cap")
        digest = hashlib.sha256()
        received = _receive(response, file, destination.name, total, cap, show, budget, digest)
        # http.client does not complain when the connection closes early: check ourselves.
        if total is not None and received != total:
            raise _IncompleteDownloadError(f"connection closed after {received} of {total} bytes")
        if archive is not None and digest.hexdigest() != archive.sha256.lower():
            raise ChecksumError(
                destination,
                archive.sha256.lower(),
                digest.hexdigest(),
                what=f"the .gz archive as served ({received} bytes, expected {archive.size})",
            )
        file.flush()  # the temporary file is verified before atomic_write renames it
        ndim = 3 if "-images-" in stem else 1
        limit = size_limit(stem, {stem: expected_sha} if expected_sha else {})
        _, actual = _read_idx(
            file.name, ndim=ndim, dtype=np.uint8, want_sha256=True, max_bytes=limit
        )
        if expected_sha is not None:
            check_sha256(destination, stem, actual, {stem: expected_sha})


def _receive(
    response: Any,
    file: Any,
    name: str,
    total: int | None,
    cap: int,
    show: bool,
    budget: _Budget,
    digest: Any,
) -> int:
    """Copy the body to ``file`` (and ``digest``) under the deadline and the cap; return the
    bytes received."""
    from tqdm.auto import tqdm  # only needed for downloads

    # The socket under http.client's buffer: its timeout is shortened as the deadline nears.
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    received = 0
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        disable=not show,
        file=sys.stderr,
    ) as bar:
        while True:
            if sock is not None:
                sock.settimeout(budget.socket_timeout())
            # read1: what has arrived (a server trickling bytes cannot hold one call open).
            chunk = response.read1(_DOWNLOAD_CHUNK)
            if not chunk:
                return received
            received += len(chunk)
            if received > cap:
                raise _TooLargeError(f"the server sent more than the {cap}-byte cap")
            file.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
            budget.socket_timeout()  # raises once the deadline has passed


def _size_cap(
    stem: str, sums: Mapping[str, str | None], archive: ArchiveDigest | None, max_bytes: int | None
) -> int:
    """The most bytes a download of ``stem`` may have (gzip adds little to what it holds)."""
    if max_bytes is not None:
        return int(max_bytes)
    if archive is not None:
        return int(archive.size)  # exactly the published archive
    known = size_limit(stem, sums)
    return MAX_DOWNLOAD_BYTES if known is None else known + known // 100 + (64 << 10)


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
    checksums: Mapping[str, str | None] | None = None,
    timeout: float = 30.0,
    deadline: float | None = DEFAULT_DEADLINE,
    max_bytes: int | None = None,
    archives: Mapping[str, ArchiveDigest] | None = None,
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
        :data:`MNIST_SHA256` (e.g. for tests with synthetic files); a value ``None``: no
        check of that file's decompressed bytes.
    timeout : float, default 30
        Socket timeout in seconds for connecting and for each read.
    deadline : float or None, default :data:`DEFAULT_DEADLINE`
        Seconds for the whole call (every file and mirror); ``None``: no deadline.  A
        server that sends slowly is given up at the deadline, not after it.
    max_bytes : int, optional
        Cap on each downloaded file; default the original file's size plus 1% (gzip's
        overhead), the archive's size when ``archives`` names it, or
        :data:`MAX_DOWNLOAD_BYTES` for files of unknown size.
    archives : mapping of str to ArchiveDigest, optional
        Size and SHA-256 of each ``.gz`` as served, by canonical name: checked on the
        received bytes before they are decompressed (for sets whose publishers' digests
        are of the archives, such as KMNIST).

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    DownloadError
        All mirrors failed for a file, or the deadline passed; the message lists each
        mirror's failure and how to use local files instead.
    """
    folder = Path(dest_dir).expanduser() if dest_dir is not None else default_cache_dir()
    bases = _check_mirrors(mirrors)
    sums = merged_checksums(checksums)
    show = _show_progress(progress)
    budget = _Budget(deadline, timeout)
    present = find_mnist_files(folder) if folder.is_dir() else {}
    todo = [stem for stem in MNIST_FILES if stem not in present]
    created = bool(todo) and not folder.exists()
    if todo:
        folder.mkdir(parents=True, exist_ok=True)
    try:
        for stem in todo:
            _download_one(
                folder, stem, bases, sums, (archives or {}).get(stem), show, budget, max_bytes
            )
    except DownloadError:
        if created and not any(folder.iterdir()):
            folder.rmdir()  # a failed download leaves nothing behind, not even its folder
        raise
    return folder


def _download_one(
    folder: Path,
    stem: str,
    bases: list[str],
    sums: Mapping[str, str | None],
    archive: ArchiveDigest | None,
    show: bool,
    budget: _Budget,
    max_bytes: int | None,
) -> None:
    """Fetch ``<stem>.gz`` from the first of ``bases`` that serves it; move that one first."""
    filename = f"{stem}.gz"
    cap = _size_cap(stem, sums, archive, max_bytes)
    failures: list[tuple[str, str]] = []
    for base in bases:
        url = urllib.parse.urljoin(base if base.endswith("/") else base + "/", filename)
        try:
            _fetch(url, folder / filename, stem, sums.get(stem), archive, show, budget, cap)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response socket open otherwise
            failures.append((url, _describe(exc)))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # OSError covers URLError, timeouts, resets and our incomplete-read check;
            # ValueError covers ChecksumError and IDXFormatError.
            if budget.expired():  # a timeout at the deadline: no other mirror is tried
                failures.append((url, budget.message))
                raise DownloadError(filename, failures) from None
            failures.append((url, _describe(exc)))
        else:
            # A mirror that worked is the best bet for the remaining files.
            bases.remove(base)
            bases.insert(0, base)
            return
        logger.warning("downloading %s failed: %s", url, failures[-1][1])
    raise DownloadError(filename, failures)
