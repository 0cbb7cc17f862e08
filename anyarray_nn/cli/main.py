"""The ``anyarray-nn`` command line (also ``python -m anyarray_nn``): the one ``main``.

Commands, one module each (each a thin layer over the Python API):

``train`` (:mod:`.train`)
    Train a network on MNIST; the defaults train a 784-64-10 ReLU network to about 98% test
    accuracy in well under a minute on a CPU.
``evaluate MODEL`` (:mod:`.evaluate`)
    Metrics and confusion matrix of a saved model on the MNIST test set.
``predict MODEL IMAGE...`` (:mod:`.predict`)
    Classify PNG images of digits.
``paper`` (:mod:`.paper`)
    The paper's section 3.2, measured.
``tune`` (:mod:`.tune`)
    Bayesian hyper-parameter search (Optuna).

Every command returns an exit code under one error policy (:mod:`.errors`): known errors
(bad arguments, a missing data set, an unusable backend, a diverging run, an unreadable
file) end with one line on stderr, ``anyarray-nn: error: ...``, and a non-zero exit status,
never a traceback (set ``ANYARRAY_NN_DEBUG=1`` to see one).  Options shared between
commands are in :mod:`.options`, file output in :mod:`.output`.

A new command is a module with a function ``add_parser(subparsers)`` (which sets the
``func`` default to the function that runs it) listed in :data:`REGISTRARS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._version import __version__
from ..libraries import limit_threads
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, PROG, Parser, run_command
from .preflight import check_outputs

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "REGISTRARS", "build_parser", "main"]

#: What adds each command to the ``subparsers`` of :func:`build_parser`: a function
#: ``add_parser(subparsers)``, or its ``"module:function"`` path (imported only when the
#: parser is built, so that ``python -m anyarray_nn.cli.tune`` runs without a second copy
#: of its module already imported).  A new command is one more line here.
REGISTRARS: list[Callable[[Any], None] | str] = [
    "anyarray_nn.cli.train:add_parser",
    "anyarray_nn.cli.evaluate:add_parser",
    "anyarray_nn.cli.predict:add_parser",
    "anyarray_nn.cli.paper:add_parser",
    "anyarray_nn.cli.tune:add_parser",
]


def _registrar(entry: Callable[[Any], None] | str) -> Callable[[Any], None]:
    if callable(entry):
        return entry
    module_name, _, function = entry.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, function or "add_parser")  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (one-line usage errors, see :class:`.errors.Parser`)."""
    parser = Parser(
        prog=PROG,
        description="Train, evaluate and use fully-connected networks on MNIST, on NumPy or CuPy.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for entry in REGISTRARS:
        _registrar(entry)(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success).

    Known errors print ``anyarray-nn: error: <one line>`` on stderr and return 1 (2 for
    wrong arguments, 130 when interrupted); see :mod:`anyarray_nn.cli.errors`.
    """
    parser = build_parser()
    args = argparse.Namespace()

    def command() -> int:
        parser.parse_args(argv, namespace=args)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        check_outputs(args)  # an output that cannot be written fails now, not after the work
        if getattr(args, "threads", None) is not None:  # every command that computes
            limit_threads(args.threads, args.backend)
        return int(args.func(args))

    return run_command(command, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
