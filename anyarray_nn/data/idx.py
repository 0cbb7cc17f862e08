"""The IDX file format of MNIST: a checking reader and an atomic writer (host side, NumPy).

An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim`` big-endian
``uint32`` dimensions, then the payload: ``prod(dims)`` big-endian values of ``<type>``
in C order.  The MNIST images are ``0x00000803`` (uint8, 3 dimensions ``N x 28 x 28``),
the labels ``0x00000801`` (uint8, ``N``).  Files may be gzip-compressed; the reader
recognises gzip by its content (``1f 8b``), not by the file name.

Everything here is strict: a file that is truncated, has trailing bytes, a broken gzip
stream, an unknown magic number or the wrong number of dimensions raises
:class:`IDXFormatError` naming the file and what is wrong.  The reader never returns
wrongly shaped data.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from anyarray_nn.data.idx import read_idx, write_idx
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_idx(folder / "x-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
>>> read_idx(folder / "x-idx1-ubyte.gz")
array([0, 1, 2, 3, 4], dtype=uint8)
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["MAX_IDX_BYTES", "IDXFormatError", "load_idx_pair", "read_idx", "write_idx"]

PathLike = str | os.PathLike[str]

#: IDX type code -> big-endian NumPy dtype of the payload.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot compress better than about 1032:1, so a gzip file of C bytes can never
# decompress to more than this many bytes per byte.  It lets us reject a header that
# promises an absurd payload *before* allocating memory for it.
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20
#: Default limit on the decompressed size of an IDX file (header and payload): about four
#: times EMNIST's largest file.  A header promising more is refused before anything is read or
#: allocated, so a gzip bomb costs nothing; ``max_bytes=`` states another limit.
MAX_IDX_BYTES = 1 << 31


class IDXFormatError(ValueError):
    """An IDX file is malformed: truncated, corrupted or not the kind of file expected.

    Attributes
    ----------
    path : pathlib.Path
        The offending file.
    reason : str
        What is wrong with it.
    """

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    """Read exactly ``n`` bytes unless the stream ends first (then fewer)."""
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _describe_kind(ndim: int) -> str:
    return {1: "a labels file", 3: "an images file"}.get(ndim, f"a {ndim}-dimensional array")


def _read_idx(
    path: PathLike,
    *,
    ndim: int | None = None,
    dtype: np.dtype | type | None = None,
    want_sha256: bool = False,
    max_bytes: int | None = None,
) -> tuple[np.ndarray, str | None]:
    """Read and check one IDX file; optionally hash its decompressed bytes on the way.

    The steps: the header (magic number, dimensions), the promised size against the file's,
    the payload, the checksum, native byte order.  Returns the array and, when
    ``want_sha256``, the hex SHA-256 of the decompressed file (header and payload).  The
    payload is decompressed straight into the returned array (no intermediate ``bytes``
    object), so a 47 MB MNIST file costs one buffer and one pass.  ``max_bytes`` bounds
    the decompressed size (default :data:`MAX_IDX_BYTES`); decompression never runs past
    the size the header promises.
    """
    path = Path(path)
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "rb"))
        file_size = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream: BinaryIO = raw
        if compressed:
            stream = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        try:
            header = _read_header(path, stream, ndim, dtype)
            _check_payload_size(path, header, compressed, file_size)
            _check_limit(path, header, MAX_IDX_BYTES if max_bytes is None else max_bytes)
            flat = _read_payload(path, stream, header, compressed)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            # Only gzip can raise these here: a truncated or damaged compressed stream.
            raise IDXFormatError(path, f"broken gzip stream ({type(exc).__name__}: {exc})") from exc
    digest = None
    if want_sha256:  # of the decompressed file: header and payload bytes
        sha = hashlib.sha256(header.magic + header.dims)
        sha.update(flat.view(np.uint8))
        digest = sha.hexdigest()
    return _native(flat, header), digest


@dataclass(frozen=True)
class _Header:
    """The checked header of an IDX file: raw bytes (for the checksum), dtype and shape."""

    magic: bytes
    dims: bytes
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def payload_size(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _read_header(
    path: Path, stream: BinaryIO, ndim: int | None, dtype: np.dtype | type | None
) -> _Header:
    """Read the magic number and the dimensions; check them against what is expected."""
    magic = _read_exact(stream, 4)
    file_dtype = _check_magic(path, magic)
    file_ndim = magic[3]
    if ndim is not None and file_ndim != ndim:
        raise IDXFormatError(
            path,
            f"has {file_ndim} dimension(s) (magic 0x{magic.hex()}), expected {ndim}: "
            f"this looks like {_describe_kind(file_ndim)}, not {_describe_kind(ndim)}",
        )
    if dtype is not None and file_dtype.newbyteorder("=") != np.dtype(dtype):
        raise IDXFormatError(
            path,
            f"holds {file_dtype.newbyteorder('=').name} values (magic 0x{magic.hex()}), "
            f"expected {np.dtype(dtype).name}",
        )
    dims = _read_exact(stream, 4 * file_ndim)
    if len(dims) < 4 * file_ndim:
        raise IDXFormatError(path, f"header truncated: {file_ndim} dimensions declared")
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    return _Header(magic, dims, file_dtype, shape)


def _check_magic(path: Path, magic: bytes) -> np.dtype:
    """The payload dtype named by a 4-byte magic number, or :class:`IDXFormatError`."""
    if len(magic) == 0:
        raise IDXFormatError(path, "file is empty")
    if len(magic) < 4:
        raise IDXFormatError(path, f"file too short for an IDX header ({len(magic)} bytes)")
    if magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
        raise IDXFormatError(
            path,
            f"bad magic number 0x{magic.hex()}: an IDX file starts with 00 00, a type code "
            f"in {{{', '.join(f'{t:02x}' for t in _IDX_TYPES)}}} and the dimension count "
            "(is this an IDX file?)",
        )
    if magic[3] == 0:
        raise IDXFormatError(path, "the header declares 0 dimensions")
    return _IDX_TYPES[magic[2]]


def _check_payload_size(path: Path, header: _Header, compressed: bool, file_size: int) -> None:
    """Check the promised size against what the file can hold, before allocating it."""
    shape, payload_size = header.shape, header.payload_size
    if not compressed:
        actual = file_size - len(header.magic) - len(header.dims)
        if actual < payload_size:
            raise IDXFormatError(
                path,
                f"truncated: header promises shape {shape} = {payload_size} payload bytes, "
                f"file has {actual}",
            )
        if actual > payload_size:
            raise IDXFormatError(
                path,
                f"{actual - payload_size} trailing bytes after the payload of shape {shape}",
            )
    elif (
        len(header.magic) + len(header.dims) + payload_size > _MAX_DEFLATE_RATIO * file_size + 1024
    ):
        raise IDXFormatError(
            path,
            f"truncated: header promises shape {shape} = {payload_size} payload bytes, "
            f"more than a {file_size}-byte gzip file can hold",
        )


def _check_limit(path: Path, header: _Header, max_bytes: int) -> None:
    """Refuse a header that promises more than ``max_bytes`` (before any allocation)."""
    total = len(header.magic) + len(header.dims) + header.payload_size
    if total > max_bytes:
        raise IDXFormatError(
            path,
            f"header promises shape {header.shape} = {total} bytes, more than the limit of "
            f"{max_bytes} bytes (a damaged file or a decompression bomb; pass max_bytes= "
            "to read larger files)",
        )


def _read_payload(path: Path, stream: BinaryIO, header: _Header, compressed: bool) -> np.ndarray:
    """The payload, read (decompressed) straight into a flat big-endian array."""
    payload_size = header.payload_size
    flat = np.empty(payload_size // header.dtype.itemsize, dtype=header.dtype)
    with memoryview(flat.view(np.uint8)) as view:
        filled = 0
        while filled < payload_size:
            # 1 MiB at a time: gzip's readinto would otherwise decompress the whole
            # request into a temporary bytes object first (the payload held twice).
            n = stream.readinto(view[filled : filled + _CHUNK])
            if not n:
                break
            filled += n
    if filled < payload_size:
        raise IDXFormatError(
            path,
            f"truncated: header promises shape {header.shape} = {payload_size} payload "
            f"bytes, stream ends after {filled}",
        )
    if compressed and stream.read(1):
        raise IDXFormatError(path, f"trailing bytes after the payload of shape {header.shape}")
    return flat


def _native(flat: np.ndarray, header: _Header) -> np.ndarray:
    """The payload in its shape and in native byte order."""
    array = flat.reshape(header.shape)
    if header.dtype.itemsize > 1:
        return array.astype(header.dtype.newbyteorder("="))
    # uint8/int8 have no byte order: a free view, no copy.
    return array.view(header.dtype.newbyteorder("="))


def read_idx(
    path: PathLike,
    *,
    ndim: int | None = None,
    dtype: np.dtype | type | None = None,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a host NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file.  Gzip is recognised by content, so the name does not matter.
    ndim : int, optional
        Required number of dimensions (3 for images, 1 for labels).  Checked from the
        header before the payload is read, so a mislabelled file fails fast.
    dtype : numpy dtype, optional
        Required element type (e.g. ``numpy.uint8``).
    max_bytes : int, optional
        Largest decompressed size accepted (header and payload); default
        :data:`MAX_IDX_BYTES`.  Checked from the header, before anything is allocated.

    Returns
    -------
    numpy.ndarray
        A writable, C-contiguous array in native byte order with the shape of the header.

    Raises
    ------
    IDXFormatError
        Bad magic number, unexpected dimension count or type, truncated header or payload,
        trailing bytes, a broken gzip stream, or a size above ``max_bytes``.
    FileNotFoundError
        The file does not exist.
    """
    return _read_idx(path, ndim=ndim, dtype=dtype, max_bytes=max_bytes)[0]


def load_idx_pair(
    images_path: PathLike, labels_path: PathLike, *, max_label: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load an arbitrary images/labels pair of IDX files and check that they belong together.

    This is for any MNIST-format data (Fashion-MNIST, KMNIST, a subset you wrote with
    :func:`write_idx`, ...): the files are format-checked but not checksummed.

    Parameters
    ----------
    images_path : str or os.PathLike
        IDX file of ``uint8`` images, shape ``(N, rows, cols)``.
    labels_path : str or os.PathLike
        IDX file of ``uint8`` labels, shape ``(N,)``.
    max_label : int, optional
        When given, every label must be ``<= max_label``.

    Returns
    -------
    images : numpy.ndarray
        ``uint8`` array of shape ``(N, rows, cols)``.
    labels : numpy.ndarray
        ``uint8`` array of shape ``(N,)``.

    Raises
    ------
    IDXFormatError
        A malformed file, wrong dimensions or type, a label count different from the
        image count, or a label above ``max_label``.
    """
    images = read_idx(images_path, ndim=3, dtype=np.uint8)
    labels = read_idx(labels_path, ndim=1, dtype=np.uint8)
    check_labels(labels_path, labels, len(images), max_label)
    return images, labels


def check_labels(
    labels_path: PathLike, labels: np.ndarray, n_images: int, max_label: int | None
) -> None:
    """Raise :class:`IDXFormatError` unless ``labels`` fit ``n_images`` images and the range."""
    if len(labels) != n_images:
        raise IDXFormatError(
            labels_path, f"{len(labels)} labels for {n_images} images: the files do not match"
        )
    if max_label is not None and labels.size:
        top = int(labels.max())
        if top > max_label:
            where = int(np.argmax(labels > max_label))
            raise IDXFormatError(
                labels_path, f"label {top} (first bad one at index {where}) exceeds {max_label}"
            )


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def write_idx(path: PathLike, array: np.ndarray, *, compresslevel: int = 6) -> None:
    """Write a NumPy array as an IDX file, gzip-compressed when the name ends with ``.gz``.

    The write is atomic (:func:`anyarray_nn.files.atomic_write`): the bytes go to a
    temporary file in the same folder that replaces ``path`` only once complete, so readers
    never see a half-written file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; a name ending in ``.gz`` is gzip-compressed.
    array : numpy.ndarray
        1 to 255 dimensions, each below ``2**32``; dtype ``uint8``, ``int8``, ``int16``,
        ``int32``, ``float32`` or ``float64``.
    compresslevel : int, default 6
        Gzip level (1 fast ... 9 small); ignored for plain files.

    Raises
    ------
    TypeError
        Unsupported dtype.
    ValueError
        Zero or more than 255 dimensions, or a dimension of ``2**32`` or more.
    """
    from .idx_write import write_payload  # the writer's details beside the reader

    write_payload(Path(path), np.asarray(array), compresslevel)
