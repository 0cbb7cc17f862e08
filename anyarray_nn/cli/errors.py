"""The command line's one error policy: exit codes and one-line messages.

Every command returns :data:`EXIT_OK`; :func:`run_command` turns what it raises into an
exit status and at most one line on stderr:

* wrong or conflicting arguments (:class:`UsageError`, raised by :class:`Parser` or by a
  command): ``anyarray-nn: error: ...``, status :data:`EXIT_USAGE` (2);
* a known failure (:data:`KNOWN_ERRORS`: a missing data set, an unusable backend, a
  diverging run, an unreadable file, a failed search ...): ``anyarray-nn: error: ...``,
  status :data:`EXIT_ERROR` (1), never a traceback unless ``ANYARRAY_NN_DEBUG`` is set;
* exhausted resources and failures of third-party readers (:func:`last_resort`: out of
  memory, input nested too deeply, a damaged database, an image bomb): one line, status 1;
* Ctrl-C (and SIGTERM for ``tune``): ``anyarray-nn: interrupted``, followed by the
  command's ``interrupted_hint`` when it has one, status :data:`EXIT_INTERRUPTED` (130).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from ..backend import BackendUnavailableError
from ..training import DivergenceError
from ..tuning import TuningError

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "KNOWN_ERRORS",
    "PROG",
    "Parser",
    "UsageError",
    "last_resort",
    "one_line",
    "run_command",
]

PROG = "anyarray-nn"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Failures a user can fix (reported in one line, status 1).  The data, model-file and
#: image errors derive from ``ValueError`` or ``OSError``.
KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # ModelFileError, ChecksumError, IDXFormatError, ImageFileError
    TypeError,
    BackendUnavailableError,
    DivergenceError,
    TuningError,
    OSError,  # MNISTNotFoundError, DownloadError, a file that cannot be written
    ImportError,  # a missing optional dependency (pillow, matplotlib, optuna)
)


#: Libraries whose own exceptions mean bad input (a storage, an image, a compressed file),
#: not a bug of anyarray_nn: reported in one line.
_INPUT_LIBRARIES = ("optuna", "sqlalchemy", "sqlite3", "PIL", "zipfile", "zlib", "gzip", "json")


def last_resort(exc: BaseException) -> str | None:
    """The one-line message of an exception that no command turned into a known error.

    Out of memory and too-deep recursion (huge ``--layers``, crafted files) and the
    exceptions of the libraries that read input for us (Optuna storages, Pillow, zip)
    get a line with what to do; anything else (a bug) returns ``None`` and keeps its
    traceback.
    """
    if isinstance(exc, MemoryError):
        return (
            "out of memory; try a smaller network (--layers), --batch-size or --train-size, "
            "or check that the input files are what they claim to be"
        )
    if isinstance(exc, RecursionError):
        return "input nested too deeply (a damaged or crafted file?)"
    if type(exc).__module__.split(".")[0] in _INPUT_LIBRARIES:
        return f"{type(exc).__name__}: {one_line(exc)}"
    return None


class UsageError(Exception):
    """Arguments that parse but do not make sense together (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``anyarray-nn: error: ...``)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (its type's name when it has none)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


def _error(text: str) -> None:
    print(f"{PROG}: error: {text}", file=sys.stderr)


def run_command(command: Callable[[], int], args: argparse.Namespace) -> int:
    """Run ``command`` under the policy; return its exit status.

    ``args`` is the namespace that ``command`` parses into; a command's
    ``interrupted_hint`` default (e.g. how to resume) is read from it after an interrupt.
    """
    try:
        return int(command())
    except SystemExit as exc:  # --help, --version: a status to return, not to raise
        return int(exc.code or 0)
    except UsageError as exc:
        _error(one_line(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = getattr(args, "interrupted_hint", "")
        print(f"{PROG}: interrupted{'; ' + hint if hint else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KNOWN_ERRORS as exc:
        if os.environ.get("ANYARRAY_NN_DEBUG"):
            raise
        _error(one_line(exc))
        return EXIT_ERROR
    except (MemoryError, RecursionError, Exception) as exc:
        text = last_resort(exc)
        if text is None or os.environ.get("ANYARRAY_NN_DEBUG"):
            raise
        _error(text)
        return EXIT_ERROR
