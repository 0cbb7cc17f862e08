"""A bounded reader of ``.npz`` files: headers first, then only the arrays asked for.

:func:`numpy.load` on an ``.npz`` file trusts it: every entry that is read is decompressed
and allocated at the size its header claims.  A hostile file can claim gigabytes in a few
hundred compressed bytes.  :class:`NpzReader` reads in two steps instead:

1. :meth:`NpzReader.header` reads one entry's zip record and ``.npy`` header only (a few
   hundred bytes): its dtype, shape and byte size, checked against the zip's declared
   ``file_size``.  The caller compares them with what it expects and with its limits.
2. :meth:`NpzReader.read` then reads exactly that many bytes, in 1 MiB pieces, straight
   into the array (decompression cannot run past the declared size).

Entries that are not asked for are never read.  Object arrays (which need pickle) are
refused.  Everything that can go wrong in the zip or ``.npy`` layers -- a truncated file,
a CRC error, an encrypted entry, an unknown compression, a malformed header -- is raised as
:class:`NpzError` (a ``ValueError``), never as the zip module's own exceptions.
"""

from __future__ import annotations

import math
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NpyHeader", "NpzError", "NpzReader"]

#: Compressions Python's zipfile reads without optional modules.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: Largest ``.npy`` header read (NumPy's own default limit).
_MAX_HEADER = 10_000
_CHUNK = 1 << 20
#: What the zip and npy layers raise for damaged or unsupported content.
_LOW_LEVEL = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,  # an encrypted entry
    NotImplementedError,  # an unknown compression method
    struct.error,
    ValueError,
    SyntaxError,  # NumPy parses the header dict with ast: null bytes, bad syntax
    tokenize.TokenError,  # ... and an unterminated one
)


class NpzError(ValueError):
    """An ``.npz`` file or one of its entries is damaged, unsupported or unsafe."""


@dataclass(frozen=True)
class NpyHeader:
    """What an entry's ``.npy`` header declares, checked against its zip record.

    Attributes
    ----------
    name : str
        The entry (without ``.npy``).
    dtype : numpy.dtype
    shape : tuple of int
    fortran : bool
        Column-major payload.
    nbytes : int
        The payload's size: ``prod(shape) * dtype.itemsize``.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran: bool
    nbytes: int


def _parse_header(fp: Any, name: str) -> tuple[NpyHeader, int]:
    """The ``.npy`` header of an open entry and its length in bytes."""
    major, minor = np.lib.format.read_magic(fp)
    if (major, minor) == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, _MAX_HEADER)
    elif (major, minor) == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, _MAX_HEADER)
    else:
        raise NpzError(f"entry {name!r}: unsupported .npy format version {major}.{minor}")
    if dtype.hasobject:
        raise NpzError(
            f"entry {name!r} holds Python objects, which only pickle can read; refused "
            "(allow_pickle=False)"
        )
    nbytes = math.prod(shape) * dtype.itemsize
    return NpyHeader(name, dtype, tuple(shape), bool(fortran), nbytes), fp.tell()


class NpzReader:
    """An ``.npz`` file opened for bounded reads (a context manager).

    Parameters
    ----------
    path : path-like

    Raises
    ------
    NpzError
        Not a zip file, or a damaged one.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except _LOW_LEVEL as exc:
            raise NpzError(f"not a readable .npz file ({_reason(exc)})") from exc
        self.names = {n.removesuffix(".npy") for n in self._zip.namelist() if n.endswith(".npy")}

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            info = self._zip.getinfo(name + ".npy")
        except KeyError:
            raise NpzError(f"no entry {name!r}") from None
        if info.flag_bits & 0x1:
            raise NpzError(f"entry {name!r} is encrypted")
        if info.compress_type not in _COMPRESSIONS:
            raise NpzError(f"entry {name!r} uses unsupported compression {info.compress_type}")
        return info

    def header(self, name: str) -> NpyHeader:
        """Read and check the header of entry ``name`` (not its payload).

        Raises
        ------
        NpzError
            No such entry, an unreadable header, or a payload size that does not match
            the zip record's ``file_size``.
        """
        info = self._info(name)
        try:
            with self._zip.open(info) as fp:
                header, length = _parse_header(fp, name)
        except NpzError:
            raise
        except _LOW_LEVEL as exc:
            raise NpzError(f"entry {name!r}: unreadable .npy header ({_reason(exc)})") from exc
        if info.file_size != length + header.nbytes:
            raise NpzError(
                f"entry {name!r}: its header declares {header.nbytes} payload bytes "
                f"(shape {header.shape}, {header.dtype}) but the zip holds "
                f"{info.file_size - length}"
            )
        return header

    def read(self, header: NpyHeader) -> np.ndarray:
        """The array of an entry whose :meth:`header` was read and accepted.

        Reads exactly ``header.nbytes`` payload bytes in 1 MiB pieces into one new array.

        Raises
        ------
        NpzError
            The entry is damaged (CRC, truncated stream, ...).
        """
        info = self._info(header.name)
        flat = np.empty(header.nbytes // max(header.dtype.itemsize, 1), dtype=header.dtype)
        try:
            with self._zip.open(info) as fp:
                _parse_header(fp, header.name)
                _fill(fp, flat.view(np.uint8), header.name)
        except NpzError:
            raise
        except _LOW_LEVEL as exc:
            raise NpzError(f"entry {header.name!r}: {_reason(exc)}") from exc
        return flat.reshape(header.shape, order="F" if header.fortran else "C")


def _fill(fp: Any, target: np.ndarray, name: str) -> None:
    """Read ``target.nbytes`` bytes of ``fp`` into ``target``, one piece at a time."""
    with memoryview(target) as view:
        filled = 0
        while filled < len(view):
            n = fp.readinto(view[filled : filled + _CHUNK])
            if not n:
                raise NpzError(f"entry {name!r}: truncated after {filled} payload bytes")
            filled += n
    fp.read(1)  # reaching the end makes zipfile check the CRC


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
