"""One atomic writer: a unique temporary file in the target's folder, then a rename.

A reader of ``path`` sees either the previous file or the complete new one, never a partial
write, and a failed or interrupted write leaves the previous file untouched and no
temporary file behind.

How
---
1. The temporary file gets a fresh random name in the *same* folder (``os.replace`` is
   atomic only within one file system), hidden by a leading dot and ending in ``.tmp``:
   ``.<name>.<12 hex digits>.tmp``.  It is created with ``O_CREAT | O_EXCL`` (and
   ``O_NOFOLLOW``), so an existing file or a symlink planted at that name is never opened
   or followed: creation fails and another name is drawn, as :func:`tempfile.mkstemp` does.
   Unlike ``mkstemp`` (mode ``0o600``) the file is created with mode ``0o666`` less the
   umask, so the result has the permissions of any file the user creates.
2. After the caller's writes: flush, ``fsync`` (the bytes are on disk before the rename),
   close, :func:`os.replace` over ``path``, then ``fsync`` of the folder where the platform
   allows it (so the rename itself survives a power cut).
3. On any exception, ``KeyboardInterrupt`` included, the temporary file is closed and
   removed and the exception propagates.
4. A process killed mid-write (``kill -9``, power loss) cannot clean up: the first write to
   a folder in each process removes this library's temporary files there (names
   ``.<name>.<12 hex digits>.tmp``, regular files only) that are older than
   :data:`STALE_SECONDS` (a day), so no live write of another process is touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["STALE_SECONDS", "atomic_write", "remove_stale_temporaries"]

#: Age after which a temporary file of this library is taken for a leftover of a crash.
STALE_SECONDS = 24 * 3600
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")
#: Folders already cleaned by this process (a checkpoint per epoch scans once).
_CLEANED: set[str] = set()

#: Names drawn before giving up (``tempfile.TMP_MAX`` is 10000; one clash is already rare).
_ATTEMPTS = 100
#: Flags of the temporary file: a new file only, never through a symlink.
_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_MODES = ("w", "wb", "wt")


def _temporary_name(path: Path) -> Path:
    """A fresh random name for the temporary file of ``path``, in the same folder."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _open_temporary(path: Path, mode: str, encoding: str | None) -> IO[Any]:
    """Create and open a new temporary file next to ``path`` (never an existing one)."""
    for _ in range(_ATTEMPTS):
        tmp = _temporary_name(path)
        try:
            # The opener replaces open()'s flags by ours; the file object keeps the name.
            return open(
                tmp, mode, encoding=encoding, opener=lambda p, _flags: os.open(p, _FLAGS, 0o666)
            )
        except FileExistsError:
            continue  # a file or a (planted) symlink already has this name: draw another
    raise FileExistsError(f"no free temporary name next to {path} after {_ATTEMPTS} tries")


def remove_stale_temporaries(folder: str | os.PathLike[str], max_age: float = STALE_SECONDS) -> int:
    """Remove this library's temporary files in ``folder`` older than ``max_age`` seconds.

    Only regular files (never symlinks or folders) named like :func:`atomic_write`'s
    temporaries are removed; errors (a file gone meanwhile, no permission) are ignored.

    Returns
    -------
    int
        The number of files removed.
    """
    removed = 0
    cutoff = time.time() - max_age
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not _TEMPORARY.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def _clean_once(folder: Path) -> None:
    key = os.path.abspath(folder)
    if key not in _CLEANED:
        _CLEANED.add(key)
        remove_stale_temporaries(folder)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # Windows, or a file system that refuses: the rename is done all the same
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Write ``path`` atomically: yield a new temporary file, then move it over ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.  Its folder must exist.  An existing file (or symlink) at
        ``path`` is replaced, not written through.
    mode : {"wb", "w", "wt"}, default "wb"
        Binary or text.
    encoding : str, optional
        Text encoding (text mode only; e.g. ``"utf-8"``).

    Yields
    ------
    file object
        The open temporary file.  Its ``name`` is the temporary file's path, so the body
        may ``flush()`` and re-read what it wrote (to verify a download) before the rename.
        The body must not close it.

    Raises
    ------
    ValueError
        ``mode`` is not a write mode listed above.
    OSError
        The temporary file cannot be created, written or renamed (``path`` is untouched).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
    >>> with atomic_write(target, "w", encoding="utf-8") as file:
    ...     _ = file.write("hello")
    >>> target.read_text(encoding="utf-8")
    'hello'
    """
    if mode not in _MODES:
        raise ValueError(f"atomic_write writes a new file: mode must be one of {_MODES}")
    path = Path(path)
    _clean_once(path.parent)
    file = _open_temporary(path, mode, encoding)
    tmp = Path(file.name)
    try:
        yield file
        file.flush()
        os.fsync(file.fileno())
        file.close()
        os.replace(tmp, path)
    except BaseException:
        file.close()
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
