"""The ``tune`` command: Bayesian hyper-parameter search from the command line.

Registered on the main ``anyarray-nn`` command with :func:`add_parser`; also runs alone as
``python -m anyarray_nn.cli.tune``.  Start the same command in several terminals (or on
several machines with a shared ``--storage`` URL) to run workers of one study; run it again
after a crash to resume.

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
from collections.abc import Sequence
from types import FrameType
from typing import Any

from .options import count_or_fraction, positive_float, positive_int

__all__ = ["add_parser", "build_parser", "main", "run"]

DESCRIPTION = (
    "Search hyper-parameters (learning rate, weight decay, hidden layers, batch size, "
    "momentum, activation) with Optuna on a validation split of the training set, then "
    "retrain the best configuration on the whole training set and evaluate it once on the "
    "test set. Workers started with the same command share one study."
)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--n-trials",
        type=positive_int,
        default=20,
        metavar="N",
        help="trials of the whole study, all workers together (default 20)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="start no new trial after this many seconds",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=5,
        help="epochs per trial and for the final retraining (default 5)",
    )
    parser.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training images",
    )
    parser.add_argument(
        "--validation-size",
        type=count_or_fraction,
        default=1 / 6,
        metavar="N|FRACTION",
        help="validation images held out of the training set (default 1/6)",
    )
    parser.add_argument("--backend", default="numpy", help="numpy (default) or cupy")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the MNIST files (default: $ANYARRAY_NN_DATA or cache)",
    )
    parser.add_argument(
        "--sampler",
        choices=("gp", "tpe", "random"),
        default="gp",
        help="gp: Gaussian-process Bayesian optimisation (default; TPE when "
        "torch/scipy are missing), tpe, random",
    )
    parser.add_argument(
        "--storage",
        default=None,
        help="journal file (default anyarray-nn-tune.journal), .db file "
        "(SQLite) or SQLAlchemy URL, e.g. postgresql+psycopg2://user@host/db",
    )
    parser.add_argument(
        "--study-name",
        default="anyarray-nn",
        help="name of the study in the storage (default anyarray-nn)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the sampler, the split, the weights and batches",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="override the search space: NAME=VALUE (fixed), NAME=LOW:HIGH, "
        "NAME=A,B,C; names: learning_rate, weight_decay, hidden_layers, "
        "hidden_units, batch_size, optimizer, momentum, activation",
    )
    parser.add_argument(
        "--no-pruning",
        action="store_true",
        help="train every trial for all epochs (no median pruner)",
    )
    parser.add_argument(
        "--no-retrain",
        action="store_true",
        help="skip retraining the best configuration and the test evaluation",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="write the result as JSON")
    parser.add_argument(
        "--plot",
        default=None,
        metavar="DIR",
        help="save optimisation history and parameter importances (PNG)",
    )


def add_parser(subparsers: Any) -> None:
    """Register the ``tune`` subcommand on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "tune", help="Bayesian hyper-parameter search (Optuna)", description=DESCRIPTION
    )
    _add_arguments(parser)
    parser.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anyarray-nn tune", description=DESCRIPTION)
    _add_arguments(parser)
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Run the ``tune`` command; return the exit code."""
    from ..backend import BackendUnavailableError
    from ..experiments import prepare_data
    from ..tuning import SearchSpace, TuningError, save_plots, tune, write_json

    try:  # on SIGTERM, close the running trial as interrupted (main thread only)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:
        previous = None
    try:
        space = SearchSpace.from_overrides(args.param)
        data = prepare_data(
            args.data_dir,
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
            pruning=not args.no_pruning,
            retrain=not args.no_retrain,
        )
        if args.json:
            print(f"wrote {write_json(result, args.json)}")
        if args.plot:
            for path in save_plots(result.study, args.plot):
                print(f"wrote {path}")
    except KeyboardInterrupt:
        print(
            "anyarray-nn tune: interrupted; run the same command again to resume the study",
            file=sys.stderr,
        )
        return 130
    except (TuningError, BackendUnavailableError, ValueError, OSError) as exc:
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"anyarray-nn tune: error: {text or type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m anyarray_nn.cli.tune [options]``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
