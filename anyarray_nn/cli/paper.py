"""``anyarray-nn paper``: the paper's section 3.2 measured (:mod:`anyarray_nn.experiments`)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .._version import __version__
from ..experiments.paper import DEFAULT_EPOCHS, run_paper
from .options import (
    add_backend,
    add_data,
    add_json,
    add_progress,
    device,
    load_data,
    positive_int,
    signature_default,
)
from .output import say, write_json_output

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``paper`` on the ``subparsers`` of :func:`anyarray_nn.cli.main.build_parser`."""
    parser = subparsers.add_parser(
        "paper",
        help="reproduce the paper's section 3.2 as a measured table",
        description="Train the paper's five steps on the 784-64-10 network (sigmoid with "
        "N(0,1) weights; std n^-1/2 weights; ReLU; a better learning rate; L2 plus expanded "
        "data), then a sixth (the same network with everything the library knows: the "
        "essay-plus recipe), and print the measured test accuracy and saturation statistics "
        "of each.",
    )
    add_backend(parser)
    add_data(parser)
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=DEFAULT_EPOCHS,
        help="epochs of every step (default: %(default)s)",
    )
    parser.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training images (quick runs)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=signature_default(run_paper, "seed"),
        help="(default: %(default)s)",
    )
    add_json(parser, "write the rows (top-level list 'rows') as JSON")
    add_progress(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``anyarray-nn paper``; return the exit status."""
    from ..backend import resolve_backend
    from ..experiments import PAPER_ACCURACY, PAPER_STEPS, format_paper_table

    backend = resolve_backend(args.backend, device(args.device))
    t0 = time.perf_counter()
    data = load_data(args, train_size=args.train_size)

    def on_row(row: Any) -> None:
        say(
            args,
            f"step {row.step}/{len(PAPER_STEPS)} {row.name}: "
            f"test accuracy {100 * row.test_accuracy:.2f}% ({row.seconds:.1f} s)",
        )

    rows = run_paper(
        data,
        epochs=args.epochs,
        backend=backend,
        seed=args.seed,
        progress=args.progress,
        on_row=on_row,
    )
    wall = time.perf_counter() - t0
    print()
    print(format_paper_table(rows))
    paper_row = rows[min(4, len(rows) - 1)]  # step 5, the essay's own final network
    print(
        f"\npaper's final accuracy: {100 * PAPER_ACCURACY:.1f}%; measured: "
        f"{100 * paper_row.test_accuracy:.2f}% (step 5), {100 * rows[-1].test_accuracy:.2f}% "
        f"(step {rows[-1].step}) (wall time {wall:.1f} s)"
    )
    if args.json is not None:
        payload = {
            "command": "paper",
            "version": __version__,
            "backend": backend.name,
            "epochs": args.epochs,
            "train_size": args.train_size,
            "paper_accuracy": PAPER_ACCURACY,
            "wall_time_seconds": wall,
            "rows": [row.to_dict() for row in rows],
        }
        write_json_output(args.json, payload)
        say(args, f"wrote {args.json}")
    return 0
