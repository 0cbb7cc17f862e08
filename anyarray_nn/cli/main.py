"""The ``anyarray-nn`` command line (also ``python -m anyarray_nn``).

Subcommands (each a thin layer over the Python API):

``train``
    Train a network on MNIST (:func:`anyarray_nn.experiments.runner.run_experiment`); the defaults
    train a 784-64-10 ReLU network to about 98% test accuracy in well under a minute on a
    CPU.
``evaluate MODEL``
    Metrics and confusion matrix of a saved model on the MNIST test set.
``predict MODEL IMAGE...``
    Classify PNG images of digits.
``paper``
    The paper's section 3.2, measured (:mod:`anyarray_nn.experiments.paper`).

Every subcommand returns an exit code; known errors (bad arguments, a missing data set, an
unusable backend, a diverging run, an unreadable file) end with one line on stderr,
``anyarray-nn: error: ...``, and a non-zero exit status, never a traceback (set
``ANYARRAY_NN_DEBUG=1`` to see one).

New subcommands register themselves through a function ``add_parser(subparsers)`` listed
in :data:`REGISTRARS` (e.g. ``"anyarray_nn.cli.tune:add_parser"``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .._version import __version__
from ..backend import BACKEND_NAMES, BackendUnavailableError
from ..data import ChecksumError, DownloadError, IDXFormatError, MNISTNotFoundError
from ..nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from ..nn.initializers import INITS
from ..persistence import ModelFileError
from ..training import DEFAULT_LEARNING_RATES, SCHEDULES, DivergenceError
from .options import finite_float, non_negative_int, positive_int

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "REGISTRARS", "TRAIN_DEFAULTS", "build_parser", "main"]

PROG = "anyarray-nn"
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Defaults of ``anyarray-nn train``, measured to reach about 98% test accuracy on the
#: 784-64-10 network (at least 97.5% over seeds) in about 20 epochs.
TRAIN_DEFAULTS: dict[str, Any] = {
    "layers": "784,64,10",
    "activation": "relu",
    "output": "softmax",
    "cost": "cross_entropy",
    "init": "he",
    "optimizer": "adam",
    "learning_rate": 2e-3,
    "epochs": 20,
    "batch_size": 128,
    "weight_decay": 5e-5,
    "schedule": "cosine",
    "augment": 1,
    "seed": 0,
}

COSTS = ("cross_entropy", "quadratic")
OPTIMIZERS = ("sgd", "momentum", "adam")
OPTIONAL_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes ModelFileError, ChecksumError, IDXFormatError
    TypeError,
    BackendUnavailableError,
    DivergenceError,
    OSError,  # includes MNISTNotFoundError, DownloadError
    ImportError,  # a missing optional dependency (pillow, matplotlib)
)
assert issubclass(ModelFileError, ValueError) and issubclass(ChecksumError, ValueError)
assert issubclass(IDXFormatError, ValueError) and issubclass(MNISTNotFoundError, OSError)
assert issubclass(DownloadError, OSError)


class UsageError(Exception):
    """Arguments that parse but do not make sense together (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``anyarray-nn: error: ...``)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------------------
# helpers shared by the subcommands
# --------------------------------------------------------------------------------------


def parse_layers(text: str) -> tuple[int, ...]:
    """``"784,64,10"`` -> ``(784, 64, 10)``; MNIST needs 784 inputs and 10 outputs."""
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--layers must be comma-separated integers such as 784,64,10, got {text!r}"
        ) from None
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(
            f"--layers needs at least two positive sizes such as 784,64,10, got {text!r}"
        )
    if sizes[0] != 784 or sizes[-1] != 10:
        raise argparse.ArgumentTypeError(
            f"--layers must start with 784 (28x28 pixels) and end with 10 (digits) for MNIST, "
            f"got {text!r}"
        )
    return sizes


def _add_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        default="numpy",
        choices=BACKEND_NAMES,
        help="array library to compute with: numpy (CPU), cupy (CUDA GPU) or array_api_strict "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="device within the backend, e.g. a GPU number for cupy (default: the current one)",
    )


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the four MNIST IDX files (default: $ANYARRAY_NN_DATA, else the "
        "per-user cache, downloading on first use)",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never download MNIST; fail when the files are missing",
    )


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: only on an interactive terminal)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the final result")


def _device(text: str | None) -> Any:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def _load_data(args: argparse.Namespace, **kwargs: Any) -> Any:
    from ..experiments import prepare_data

    data_dir = args.data_dir
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise MNISTNotFoundError(
            f"--data-dir {data_dir}: no such folder; create it (MNIST is then downloaded into "
            "it) or point it at a folder with the four MNIST files"
        )
    return prepare_data(data_dir, download=not args.no_download, progress=args.progress, **kwargs)


def _json_ready(value: Any) -> Any:
    """Replace non-finite floats by None (strict JSON) and NumPy values by Python ones."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` as strict JSON, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_json_ready(payload), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def _epoch_line(record: Any) -> str:
    text = (
        f"epoch {record.epoch:3d}  cost {record.train_cost:.4f}  "
        f"train acc {100 * record.train_accuracy:6.2f}%"
    )
    if record.validation_accuracy is not None:
        text += f"  val acc {100 * record.validation_accuracy:6.2f}%"
    text += f"  lr {record.learning_rate:.3g}  {record.seconds:.1f}s"
    if record.saturation:
        text += f"  saturated hidden {100 * record.saturation[0]:.1f}%"
    return text


# --------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------


def add_train_parser(subparsers: Any) -> None:
    d = TRAIN_DEFAULTS
    p = subparsers.add_parser(
        "train",
        help="train a network on MNIST",
        description="Train a fully-connected network on MNIST and report its test accuracy. "
        "The defaults train 784-64-10 with ReLU, softmax + cross-entropy, Adam, a cosine "
        "learning-rate schedule, a little L2 and one-pixel random shifts.",
    )
    _add_backend(p)
    net = p.add_argument_group("network")
    net.add_argument(
        "--layers",
        type=parse_layers,
        default=parse_layers(d["layers"]),
        help=f"layer sizes, input first (default: {d['layers']})",
    )
    net.add_argument(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        default=d["activation"],
        help="hidden-layer activation (default: %(default)s)",
    )
    net.add_argument(
        "--output",
        choices=OUTPUT_ACTIVATIONS,
        default=d["output"],
        help="output-layer activation (default: %(default)s)",
    )
    net.add_argument("--cost", choices=COSTS, default=d["cost"], help="(default: %(default)s)")
    net.add_argument(
        "--init",
        choices=INITS,
        default=d["init"],
        help="weight initialisation: normal is N(0,1), lecun std n^-1/2 (default: %(default)s)",
    )
    net.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="(default: %(default)s)",
    )
    tr = p.add_argument_group("training")
    tr.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=d["optimizer"], help="(default: %(default)s)"
    )
    tr.add_argument(
        "--epochs", type=non_negative_int, default=d["epochs"], help="(default: %(default)s)"
    )
    tr.add_argument(
        "--batch-size", type=positive_int, default=d["batch_size"], help="(default: %(default)s)"
    )
    tr.add_argument(
        "--learning-rate",
        "--lr",
        type=finite_float,
        default=None,
        help=f"(default: {d['learning_rate']:g} for adam, "
        f"{DEFAULT_LEARNING_RATES['momentum']:g} for momentum, "
        f"{DEFAULT_LEARNING_RATES['sgd']:g} for sgd)",
    )
    tr.add_argument(
        "--momentum",
        type=finite_float,
        default=0.9,
        help="for --optimizer momentum (default: %(default)s)",
    )
    tr.add_argument(
        "--weight-decay",
        type=finite_float,
        default=d["weight_decay"],
        help="L2 coefficient lambda (default: %(default)g)",
    )
    tr.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=d["schedule"],
        help="learning-rate schedule (default: %(default)s)",
    )
    tr.add_argument(
        "--step-size",
        type=positive_int,
        default=10,
        help="epochs between drops of the step schedule (default: %(default)s)",
    )
    tr.add_argument(
        "--gamma",
        type=finite_float,
        default=0.5,
        help="factor of each drop of the step schedule (default: %(default)s)",
    )
    tr.add_argument(
        "--augment",
        type=non_negative_int,
        default=d["augment"],
        metavar="PIXELS",
        help="random on-the-fly shifts of up to this many pixels; 0 turns augmentation off "
        "(default: %(default)s)",
    )
    tr.add_argument(
        "--seed",
        type=int,
        default=d["seed"],
        help="seed of the initial weights, batch order and shifts (default: %(default)s)",
    )
    tr.add_argument(
        "--validation-size",
        type=non_negative_int,
        default=0,
        help="training images held out for validation (default: %(default)s)",
    )
    tr.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="early stopping on the validation accuracy after this many epochs "
        "without improvement (needs --validation-size)",
    )
    dat = p.add_argument_group("data and output")
    _add_data(dat)
    dat.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training images (quick runs)",
    )
    dat.add_argument(
        "--save",
        type=Path,
        default=None,
        metavar="PATH",
        help="save the trained network to PATH (.npz)",
    )
    dat.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="write configuration, per-epoch history, wall time and metrics",
    )
    dat.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="DIR",
        help="write learning curves and other figures to DIR (needs matplotlib)",
    )
    dat.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="PATH",
        help="write a checkpoint after every epoch",
    )
    dat.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint when it exists"
    )
    _add_progress(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from ..experiments import NetworkSpec, run_experiment
    from ..training import TrainingConfig

    if args.patience is not None and not args.validation_size:
        raise UsageError("--patience needs a validation set: add --validation-size N")
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume needs --checkpoint PATH")
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate = (
            TRAIN_DEFAULTS["learning_rate"]
            if args.optimizer == "adam"
            else DEFAULT_LEARNING_RATES[args.optimizer]
        )
    spec = NetworkSpec(
        sizes=args.layers,
        activation=args.activation,
        output=args.output,
        cost=args.cost,
        init=args.init,
        dtype=args.dtype,
        seed=args.seed,
    )
    config = TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=learning_rate,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        step_size=args.step_size,
        gamma=args.gamma,
        patience=args.patience,
        max_shift=args.augment,
        seed=args.seed,
    )
    # Fail on an unusable backend before loading the data.
    from ..backend import resolve_backend

    backend = resolve_backend(args.backend, _device(args.device))
    t_start = time.perf_counter()
    data = _load_data(
        args, train_size=args.train_size, validation_size=args.validation_size, seed=args.seed
    )
    sizes = data.sizes()
    _say(
        args,
        f"training {'-'.join(map(str, spec.sizes))} ({spec.activation}, {spec.cost}) on "
        f"{sizes['train']} images with {config.optimizer} lr {config.learning_rate:g}, "
        f"{config.epochs} epochs, backend {backend.name}",
    )

    bar_shown = sys.stderr.isatty() if args.progress is None else args.progress

    def on_epoch(record: Any) -> None:
        if args.quiet:
            return
        if bar_shown:  # print above the progress bar instead of through it
            from tqdm.auto import tqdm

            tqdm.write(_epoch_line(record))
        else:
            print(_epoch_line(record), flush=True)

    result = run_experiment(
        data,
        spec,
        config,
        backend=backend,
        progress=args.progress,
        checkpoint=args.checkpoint,
        resume=args.resume,
        callback=on_epoch,
    )
    wall = time.perf_counter() - t_start
    evaluation = result.evaluation
    print(
        f"test accuracy {100 * evaluation.accuracy:.2f}% (cost {evaluation.cost:.4f}, "
        f"{evaluation.n_samples} test images), wall time {wall:.1f} s",
        flush=True,
    )
    payload_config = {
        **result.config,
        "backend": backend.name,
        "data": {**sizes, "train_size": args.train_size},
    }
    if args.save is not None:
        from ..persistence import save_network

        saved = save_network(
            result.network,
            args.save,
            training={
                **payload_config,
                "test_accuracy": evaluation.accuracy,
                "epochs_run": len(result.history),
            },
        )
        _say(args, f"saved the network to {saved}")
    if args.json is not None:
        metrics = evaluation.to_dict()
        write_json(
            args.json,
            {
                "command": "train",
                "version": __version__,
                "config": payload_config,
                "history": result.history.to_dict()["epochs"],
                "best_epoch": result.history.best_epoch,
                "stopped_early": result.history.stopped_early,
                "wall_time_seconds": wall,
                "training_seconds": result.history.seconds,
                "metrics": metrics,
                "test_accuracy": evaluation.accuracy,
                "test_cost": evaluation.cost,
            },
        )
        _say(args, f"wrote {args.json}")
    if args.plot is not None:
        from ..plots import save_training_plots

        paths = save_training_plots(
            args.plot,
            history=result.history,
            evaluation=evaluation,
            network=result.network,
            images=data.test_images,
            labels=data.test_labels,
        )
        _say(args, f"wrote {len(paths)} figures to {args.plot}")
    return 0


# --------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------


def add_evaluate_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a saved model on the MNIST test set",
        description="Accuracy, cost, per-class precision and recall and the confusion "
        "matrix of a saved model on the MNIST test set.",
    )
    p.add_argument("model", type=Path, help="a model saved by `anyarray-nn train --save`")
    _add_backend(p)
    _add_data(p)
    p.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="write the metrics as JSON"
    )
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the confusion matrix and other figures to DIR",
    )
    _add_progress(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..metrics import evaluate, format_confusion
    from ..persistence import load_network

    network = load_network(args.model, args.backend, _device(args.device))
    data = _load_data(args)
    t0 = time.perf_counter()
    evaluation = evaluate(network, data.test_images, data.test_labels)
    seconds = time.perf_counter() - t0
    print(
        f"{args.model}: test accuracy {100 * evaluation.accuracy:.2f}% "
        f"({evaluation.n_samples - evaluation.misclassified.shape[0]}/{evaluation.n_samples}),"
        f" cost {evaluation.cost:.4f}"
    )
    if not args.quiet:
        print()
        print("class  precision  recall")
        for c, (p, r) in enumerate(zip(evaluation.precision, evaluation.recall, strict=True)):
            print(f"{c:>5}  {100 * p:8.2f}%  {100 * r:6.2f}%")
        print()
        print("confusion matrix (rows: true class, columns: predicted class)")
        print(format_confusion(evaluation.confusion))
    if args.json is not None:
        write_json(
            args.json,
            {
                "command": "evaluate",
                "version": __version__,
                "model": str(args.model),
                "network": network.config(),
                "backend": network.backend.name,
                "seconds": seconds,
                "metrics": evaluation.to_dict(),
                "test_accuracy": evaluation.accuracy,
            },
        )
        _say(args, f"wrote {args.json}")
    if args.plot is not None:
        from ..plots import save_training_plots

        paths = save_training_plots(
            args.plot,
            evaluation=evaluation,
            network=network,
            images=data.test_images,
            labels=data.test_labels,
        )
        _say(args, f"wrote {len(paths)} figures to {args.plot}")
    return 0


# --------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------


def add_predict_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "predict",
        help="classify PNG images of digits",
        description="Classify images of handwritten digits. Images are converted to 28x28 "
        "grayscale (other sizes are resized). MNIST digits are white on black: with --invert "
        "auto (the default) an image with a light background (dark digit on white paper) is "
        "inverted first.",
    )
    p.add_argument("model", type=Path, help="a model saved by `anyarray-nn train --save`")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="PNG (or JPEG) files")
    p.add_argument(
        "--invert",
        choices=("auto", "yes", "no"),
        default="auto",
        help="invert black-on-white images (default: %(default)s: when the border is light)",
    )
    _add_backend(p)
    p.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="write the predictions as JSON"
    )
    p.set_defaults(func=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    from ..backend import to_numpy
    from ..data.images import load_digit_images
    from ..persistence import load_network

    network = load_network(args.model, args.backend, _device(args.device))
    if network.sizes[0] != 784:
        raise ValueError(f"{args.model}: the network takes {network.sizes[0]} inputs, not 784")
    images = load_digit_images(args.images, invert=args.invert)
    X = network.asarray(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)
    probabilities = to_numpy(network.predict_proba(X)).astype(np.float64)
    predictions = []
    for path, p in zip(args.images, probabilities, strict=True):
        digit = int(np.argmax(p))
        predictions.append(
            {
                "image": str(path),
                "prediction": digit,
                "probability": float(p[digit]),
                "outputs": [float(v) for v in p],
            }
        )
        print(f"{path}: {digit} ({100 * p[digit]:.1f}%)")
    if args.json is not None:
        write_json(
            args.json,
            {"command": "predict", "model": str(args.model), "predictions": predictions},
        )
    return 0


# --------------------------------------------------------------------------------------
# paper
# --------------------------------------------------------------------------------------


def add_paper_parser(subparsers: Any) -> None:
    from ..experiments.paper import DEFAULT_EPOCHS

    p = subparsers.add_parser(
        "paper",
        help="reproduce the paper's section 3.2 as a measured table",
        description="Train the paper's five steps on the 784-64-10 network (sigmoid with "
        "N(0,1) weights; std n^-1/2 weights; ReLU; a better learning rate; L2 plus expanded "
        "data) and print the measured test accuracy and saturation statistics of each.",
    )
    _add_backend(p)
    _add_data(p)
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=DEFAULT_EPOCHS,
        help="epochs of every step (default: %(default)s)",
    )
    p.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training images (quick runs)",
    )
    p.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the rows (top-level list 'rows') as JSON",
    )
    _add_progress(p)
    p.set_defaults(func=cmd_paper)


def cmd_paper(args: argparse.Namespace) -> int:
    from ..backend import resolve_backend
    from ..experiments import PAPER_ACCURACY, format_paper_table, run_paper

    backend = resolve_backend(args.backend, _device(args.device))
    t0 = time.perf_counter()
    data = _load_data(args, train_size=args.train_size)

    def on_row(row: Any) -> None:
        _say(
            args,
            f"step {row.step}/5 {row.name}: test accuracy {100 * row.test_accuracy:.2f}% "
            f"({row.seconds:.1f} s)",
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
    print(
        f"\npaper's final accuracy: {100 * PAPER_ACCURACY:.1f}%; measured: "
        f"{100 * rows[-1].test_accuracy:.2f}% (wall time {wall:.1f} s)"
    )
    if args.json is not None:
        write_json(
            args.json,
            {
                "command": "paper",
                "version": __version__,
                "backend": backend.name,
                "epochs": args.epochs,
                "train_size": args.train_size,
                "paper_accuracy": PAPER_ACCURACY,
                "wall_time_seconds": wall,
                "rows": [row.to_dict() for row in rows],
            },
        )
        _say(args, f"wrote {args.json}")
    return 0


# --------------------------------------------------------------------------------------
# the program
# --------------------------------------------------------------------------------------

#: What adds each subcommand to the ``subparsers`` of :func:`build_parser`: a function
#: ``add_parser(subparsers)``, or its ``"module:function"`` path (imported only when the
#: parser is built).  A new subcommand is one more line here.
REGISTRARS: list[Callable[[Any], None] | str] = [
    add_train_parser,
    add_evaluate_parser,
    add_predict_parser,
    add_paper_parser,
    "anyarray_nn.cli.tune:add_parser",
]


def _registrar(entry: Callable[[Any], None] | str) -> Callable[[Any], None]:
    if callable(entry):
        return entry
    module_name, _, function = entry.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, function or "add_parser")  # type: ignore[no-any-return]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Train, evaluate and use fully-connected networks on MNIST, on NumPy or CuPy.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for entry in REGISTRARS:
        _registrar(entry)(subparsers)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success).

    Known errors print ``anyarray-nn: error: <one line>`` on stderr and return 1 (2 for
    wrong arguments, 130 when interrupted).
    """
    parser = build_parser()
    debug = bool(os.environ.get("ANYARRAY_NN_DEBUG"))
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version: a status to return, not to raise
            return int(exc.code or 0)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return int(args.func(args))
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OPTIONAL_ERRORS as exc:
        if debug:
            raise
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
