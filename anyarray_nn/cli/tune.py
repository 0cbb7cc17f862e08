"""``anyarray-nn tune``: Bayesian hyper-parameter search from the command line.

Start the same command in several terminals (or on several machines with a shared
``--storage`` URL) to run workers of one study; run it again after a crash to resume.
Its defaults are those of :func:`anyarray_nn.tuning.tune`; errors and exit codes follow the
one policy of :mod:`anyarray_nn.cli.errors` (SIGTERM, like Ctrl-C, closes the running trial
as interrupted and exits with 130).

Examples
--------
.. code-block:: bash

    anyarray-nn tune --n-trials 30 --epochs 3 --train-size 20000 --json tune.json
    anyarray-nn tune --storage postgresql+psycopg2://user@db-host/optuna --study-name mnist
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from types import FrameType
from typing import Any

from ..tuning import DEFAULT_SPACE, DEFAULT_STORAGE, SAMPLERS, tune
from .options import (
    Group,
    add_backend,
    add_data,
    count_or_fraction,
    device,
    load_data,
    positive_float,
    positive_int,
    signature_default,
)
from .output import write_tune_json

__all__ = ["DESCRIPTION", "VALIDATION_FRACTION", "add_parser", "main", "run"]

DESCRIPTION = (
    "Search hyper-parameters (learning rate, weight decay, hidden layers, batch size, "
    "momentum, activation) with Optuna on a validation split of the training set, then "
    "retrain the best configuration on the whole training set and evaluate it once on the "
    "test set. Workers started with the same command share one study."
)

#: Share of the training images held out to score the trials (``--validation-size``).
VALIDATION_FRACTION = Fraction(1, 6)


def _default(name: str) -> Any:
    return signature_default(tune, name)


def _add_search(group: Group) -> None:
    group.add_argument(
        "--n-trials",
        type=positive_int,
        default=_default("n_trials"),
        metavar="N",
        help=f"trials of the whole study, all workers together (default {_default('n_trials')})",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        default=_default("timeout"),
        metavar="SECONDS",
        help="start no new trial after this many seconds",
    )
    group.add_argument(
        "--epochs",
        type=positive_int,
        default=_default("epochs"),
        help=f"epochs per trial and for the final retraining (default {_default('epochs')})",
    )


def _add_data(group: Group) -> None:
    group.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training images",
    )
    group.add_argument(
        "--validation-size",
        type=count_or_fraction,
        default=float(VALIDATION_FRACTION),
        metavar="N|FRACTION",
        help=f"validation images held out of the training set (default {VALIDATION_FRACTION})",
    )
    add_backend(group)
    add_data(group)


def _add_study(group: Group) -> None:
    group.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default=_default("sampler"),
        help="gp: Gaussian-process Bayesian optimisation (default; TPE when "
        "torch/scipy are missing), tpe, random",
    )
    group.add_argument(
        "--storage",
        default=_default("storage"),
        help=f"journal file (default {DEFAULT_STORAGE}), .db file "
        "(SQLite) or SQLAlchemy URL, e.g. postgresql+psycopg2://user@host/db",
    )
    group.add_argument(
        "--study-name",
        default=_default("study_name"),
        help=f"name of the study in the storage (default {_default('study_name')})",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=_default("seed"),
        help="seed of the sampler, the split, the weights and batches",
    )
    group.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="override the search space: NAME=VALUE (fixed), NAME=LOW:HIGH, "
        f"NAME=A,B,C; names: {', '.join(DEFAULT_SPACE)}",
    )


def _add_outputs(group: Group) -> None:
    group.add_argument(
        "--no-pruning",
        action="store_true",
        help="train every trial for all epochs (no median pruner)",
    )
    group.add_argument(
        "--no-retrain",
        action="store_true",
        help="skip retraining the best configuration and the test evaluation",
    )
    group.add_argument("--json", default=None, metavar="PATH", help="write the result as JSON")
    group.add_argument(
        "--plot",
        default=None,
        metavar="DIR",
        help="save optimisation history and parameter importances (PNG)",
    )


def add_parser(subparsers: Any) -> None:
    """Register ``tune`` on the ``subparsers`` of :func:`anyarray_nn.cli.main.build_parser`."""
    parser = subparsers.add_parser(
        "tune", help="Bayesian hyper-parameter search (Optuna)", description=DESCRIPTION
    )
    _add_search(parser)
    _add_data(parser)
    _add_study(parser)
    _add_outputs(parser)
    parser.set_defaults(func=run, interrupted_hint="run the same command again to resume the study")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so that the running trial is closed as interrupted."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: signals cannot be handled here
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    """Run ``anyarray-nn tune``; return the exit status."""
    from ..tuning import SearchSpace, save_plots
    from ..tuning.storage import import_optuna

    with _sigterm_as_interrupt():
        import_optuna()  # a missing extra is said before any data is read or downloaded
        space = SearchSpace.from_overrides(args.param)
        data = load_data(
            args,
            train_size=args.train_size,
            validation_size=args.validation_size,
            seed=args.seed,
        )
        result = tune(
            data,
            n_trials=args.n_trials,
            timeout=args.timeout,
            epochs=args.epochs,
            space=space,
            sampler=args.sampler,
            storage=args.storage,
            study_name=args.study_name,
            seed=args.seed,
            backend=args.backend,
            device=device(args.device),
            pruning=not args.no_pruning,
            retrain=not args.no_retrain,
        )
        if args.json:
            print(f"wrote {write_tune_json(result, args.json)}")
        if args.plot:
            for path in save_plots(result.study, args.plot):
                print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m anyarray_nn.cli.tune ARGS``: the same as ``anyarray-nn tune ARGS``."""
    from .main import main as cli_main

    return cli_main(["tune", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
