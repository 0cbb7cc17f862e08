"""``anyarray-nn evaluate MODEL``: metrics and confusion matrix of a saved model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .._version import __version__
from .options import (
    add_backend,
    add_data,
    add_json,
    add_plot,
    add_progress,
    device,
    load_data,
    recorded_data,
)
from .output import say, write_json_output

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``evaluate`` on the ``subparsers`` of :func:`anyarray_nn.cli.main.build_parser`."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a saved model on a test set (MNIST by default)",
        description="Accuracy, cost, per-class precision and recall and the confusion "
        "matrix of a saved model on the test set of MNIST, --dataset NAME or --data-dir. "
        "Without --dataset, the data set the model was trained on (recorded by `train "
        "--save`), else MNIST.",
    )
    parser.add_argument("model", type=Path, help="a model saved by `anyarray-nn train --save`")
    add_backend(parser)
    add_data(parser)
    add_json(parser, "write the metrics as JSON")
    add_plot(parser, "write the confusion matrix and other figures to DIR")
    add_progress(parser)
    parser.set_defaults(func=run)


def _print_report(args: argparse.Namespace, evaluation: Any, class_names: Any = None) -> None:
    from ..metrics import format_confusion

    print(
        f"{args.model}: test accuracy {100 * evaluation.accuracy:.2f}% "
        f"({evaluation.n_samples - evaluation.misclassified.shape[0]}/{evaluation.n_samples}),"
        f" cost {evaluation.cost:.4f}"
    )
    if args.quiet:
        return
    print()
    names = [str(c) for c in range(len(evaluation.precision))]
    if class_names and len(class_names) == len(names):
        names = [f"{c} {name}" if name != str(c) else name for c, name in enumerate(class_names)]
    width = max(5, *(len(n) for n in names))
    print(f"{'class':<{width}}  precision  recall")
    for name, p, r in zip(names, evaluation.precision, evaluation.recall, strict=True):
        print(f"{name:<{width}}  {100 * p:8.2f}%  {100 * r:6.2f}%")
    print()
    print("confusion matrix (rows: true class, columns: predicted class)")
    print(format_confusion(evaluation.confusion))


def run(args: argparse.Namespace) -> int:
    """Run ``anyarray-nn evaluate``; return the exit status."""
    from ..metrics import evaluate
    from ..persistence import load_network

    network = load_network(args.model, args.backend, device(args.device))
    if args.dataset is None:  # the data set the model was trained on, when recorded
        args.dataset = recorded_data(args.model).get("dataset")
    data = load_data(args)
    t0 = time.perf_counter()
    evaluation = evaluate(network, data.test_images, data.test_labels)
    seconds = time.perf_counter() - t0
    _print_report(args, evaluation, data.class_names)
    if args.json is not None:
        payload = {
            "command": "evaluate",
            "version": __version__,
            "model": str(args.model),
            "network": network.config(),
            "backend": network.backend.name,
            "seconds": seconds,
            "metrics": evaluation.to_dict(),
            "test_accuracy": evaluation.accuracy,
            "dataset": data.name,
            "class_names": list(data.class_names or ()),
        }
        write_json_output(args.json, payload)
        say(args, f"wrote {args.json}")
    if args.plot is not None:
        from ..plots import save_training_plots

        paths = save_training_plots(
            args.plot,
            evaluation=evaluation,
            network=network,
            images=data.test_images,
            labels=data.test_labels,
            class_names=data.class_names,
        )
        say(args, f"wrote {len(paths)} figures to {args.plot}")
    return 0
