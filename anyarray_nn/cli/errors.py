"""The command line's one error policy: exit codes and one-line messages.

Every command returns :data:`EXIT_OK`; :func:`run_command` turns what it raises into an
exit status and at most one line on stderr:

* wrong or conflicting arguments (:class:`UsageError`, raised by :class:`Parser` or by a
  command): ``anyarray-nn: error: ...``, status :data:`EXIT_USAGE` (2);
* a known failure (:data:`KNOWN_ERRORS`: a missing data set, an unusable backend, a
  diverging run, an unreadable file, a failed search ...): ``anyarray-nn: error: ...``,
  status :data:`EXIT_ERROR` (1), never a traceback unless ``ANYARRAY_NN_DEBUG`` is set;
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
