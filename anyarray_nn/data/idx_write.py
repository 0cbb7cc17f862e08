"""The bytes of an IDX file, written atomically (the body of :func:`~.idx.write_idx`)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .idx import _IDX_TYPES

__all__ = ["write_payload"]


def _native_to_idx(array: np.ndarray) -> tuple[int, np.dtype]:
    for code, idx_dtype in _IDX_TYPES.items():
        if array.dtype == idx_dtype.newbyteorder("=") or array.dtype == idx_dtype:
            return code, idx_dtype
    names = ", ".join(d.newbyteorder("=").name for d in _IDX_TYPES.values())
    raise TypeError(f"IDX cannot store dtype {array.dtype}; supported: {names}")


def write_payload(path: Path, array: np.ndarray, compresslevel: int) -> None:
    """Check ``array`` and write it as an IDX file (see :func:`~.idx.write_idx`)."""
    code, idx_dtype = _native_to_idx(array)
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, got an array of shape {array.shape}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"IDX dimensions must be below 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    # Big-endian, C order, as flat bytes (a view when the array already is so).
    payload = np.ascontiguousarray(array, dtype=idx_dtype).reshape(-1).view(np.uint8)
    with atomic_write(path, "wb") as file:
        if path.name.endswith(".gz"):
            # mtime=0 and no file name in the header: the same array always gives the same
            # bytes, which keeps checksums of written files reproducible.
            with gzip.GzipFile(
                filename="", fileobj=file, mode="wb", compresslevel=compresslevel, mtime=0
            ) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            file.write(header)
            file.write(payload)
