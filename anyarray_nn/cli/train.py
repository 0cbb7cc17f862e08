"""``anyarray-nn train``: train a network on MNIST and report its test accuracy.

A thin layer over :func:`anyarray_nn.experiments.run_experiment`.  Every default comes from
:data:`anyarray_nn.training.MNIST_RECIPE` (the training) and
:class:`anyarray_nn.experiments.NetworkSpec` (the network), every list of choices from the
library's name tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .._version import __version__
from ..experiments import NetworkSpec, prepare_data
from ..nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from ..nn.costs import COSTS
from ..nn.initializers import INITS
from ..nn.optimizers import OPTIMIZERS
from ..training import DEFAULT_LEARNING_RATES, MNIST_RECIPE, SCHEDULES, TrainingConfig
from .errors import UsageError
from .options import (
    Group,
    add_backend,
    add_data,
    add_dtype,
    add_json,
    add_plot,
    add_progress,
    device,
    finite_float,
    load_data,
    non_negative_int,
    parse_layers,
    positive_int,
    signature_default,
)
from .output import epoch_printer, say, write_json_output
from .preflight import check_data, check_disk_space, check_train
from .recipe_options import add_recipe_options, apply_recipe

__all__ = ["DESCRIPTION", "add_parser", "default_learning_rate", "run"]

DESCRIPTION = (
    "Train a fully-connected network on MNIST (or --dataset NAME, or any IDX folder) and "
    "report its test accuracy; the input and output sizes come from the data. The defaults "
    "train 784-64-10 with ReLU, softmax + cross-entropy, Adam, a cosine learning-rate "
    "schedule, a little L2 and one-pixel random shifts."
)


def default_learning_rate(optimizer: str) -> float:
    """The learning rate of ``optimizer`` when ``--learning-rate`` is not given.

    The recipe's own rate for the recipe's optimiser, the library's default for the others.
    """
    if optimizer == MNIST_RECIPE.optimizer:
        return MNIST_RECIPE.learning_rate
    return DEFAULT_LEARNING_RATES[optimizer]


def _add_network(group: Group, spec: NetworkSpec) -> None:
    hidden = ",".join(map(str, spec.sizes[1:-1]))
    group.add_argument(
        "--layers",
        type=parse_layers,
        default=None,
        help=f"layer sizes, input first (default: the data's pixels, {hidden}, the data's "
        f"classes: {','.join(map(str, spec.sizes))} for MNIST)",
    )
    group.add_argument(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        default=spec.activation,
        help="hidden-layer activation (default: %(default)s)",
    )
    group.add_argument(
        "--output",
        choices=OUTPUT_ACTIVATIONS,
        default=spec.output,
        help="output-layer activation (default: %(default)s)",
    )
    group.add_argument("--cost", choices=COSTS, default=spec.cost, help="(default: %(default)s)")
    group.add_argument(
        "--init",
        choices=INITS,
        default=spec.init,
        help="weight initialisation: normal is N(0,1), lecun std n^-1/2 (default: %(default)s)",
    )
    add_dtype(group, spec.dtype)


def _add_optimisation(group: Group, recipe: TrainingConfig) -> None:
    default = "%(default)s"
    group.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=recipe.optimizer, help=f"(default: {default})"
    )
    group.add_argument(
        "--epochs", type=non_negative_int, default=recipe.epochs, help=f"(default: {default})"
    )
    group.add_argument(
        "--batch-size", type=positive_int, default=recipe.batch_size, help=f"(default: {default})"
    )
    rates = ", ".join(f"{default_learning_rate(o):g} for {o}" for o in sorted(OPTIMIZERS))
    group.add_argument(
        "--learning-rate", "--lr", type=finite_float, default=None, help=f"(default: {rates})"
    )
    group.add_argument(
        "--momentum",
        type=finite_float,
        default=recipe.momentum,
        help=f"for --optimizer momentum (default: {default})",
    )
    group.add_argument(
        "--weight-decay",
        type=finite_float,
        default=recipe.weight_decay,
        help="L2 coefficient lambda (default: %(default)g)",
    )
    group.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=recipe.schedule,
        help=f"learning-rate schedule (default: {default})",
    )
    group.add_argument(
        "--step-size",
        type=positive_int,
        default=recipe.step_size,
        help=f"epochs between drops of the step schedule (default: {default})",
    )
    group.add_argument(
        "--gamma",
        type=finite_float,
        default=recipe.gamma,
        help=f"factor of each drop of the step schedule (default: {default})",
    )


def _add_regularisation(group: Group, recipe: TrainingConfig) -> None:
    group.add_argument(
        "--augment",
        type=non_negative_int,
        default=recipe.max_shift,
        metavar="PIXELS",
        help="random on-the-fly shifts of up to this many pixels; 0 turns augmentation off "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=recipe.seed,
        help="seed of the initial weights, batch order and shifts (default: %(default)s)",
    )
    group.add_argument(
        "--validation-size",
        type=non_negative_int,
        default=signature_default(prepare_data, "validation_size"),
        help="training images held out for validation (default: %(default)s)",
    )
    group.add_argument(
        "--patience",
        type=positive_int,
        default=recipe.patience,
        help="early stopping on the validation accuracy after this many epochs "
        "without improvement (needs --validation-size)",
    )


def _add_files(group: Group) -> None:
    add_data(group)
    group.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training images (quick runs)",
    )
    group.add_argument(
        "--save",
        type=Path,
        default=None,
        metavar="PATH",
        help="save the trained network to PATH (.npz)",
    )
    add_json(group, "write configuration, per-epoch history, wall time and metrics")
    add_plot(group, "write learning curves and other figures to DIR (needs matplotlib)")
    group.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="PATH",
        help="write a checkpoint after every epoch",
    )
    group.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint when it exists"
    )


def add_parser(subparsers: Any) -> None:
    """Register ``train`` on the ``subparsers`` of :func:`anyarray_nn.cli.main.build_parser`."""
    parser = subparsers.add_parser(
        "train", help="train a network on MNIST", description=DESCRIPTION
    )
    add_backend(parser)
    _add_network(parser.add_argument_group("network"), NetworkSpec())
    training = parser.add_argument_group("training")
    _add_optimisation(training, MNIST_RECIPE)
    _add_regularisation(training, MNIST_RECIPE)
    add_recipe_options(training, MNIST_RECIPE)
    _add_files(parser.add_argument_group("data and output"))
    add_progress(parser)
    parser.set_defaults(func=run)
    parser.set_defaults(option_defaults=vars(parser.parse_args([])))  # for --recipe


def _configs(args: argparse.Namespace) -> tuple[NetworkSpec, TrainingConfig]:
    """The network and training configuration that the options ask for."""
    if args.patience is not None and not args.validation_size:
        raise UsageError("--patience needs a validation set: add --validation-size N")
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume needs --checkpoint PATH")
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate = default_learning_rate(args.optimizer)
    spec = NetworkSpec(
        sizes=args.layers or NetworkSpec.sizes,
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
        dropout=args.dropout,
        distortions=args.distortions,
    )
    if args.recipe is not None:
        spec, config = apply_recipe(args, args.option_defaults, spec, config)
    return spec, config


def sizes_for_data(layers: tuple[int, ...] | None, default: Any, data: Any) -> tuple[int, ...]:
    """The network's sizes: ``--layers`` checked against the data, else the default hidden
    layers between the data's input size and number of classes."""
    n_in, n_classes = data.n_inputs, data.n_classes
    if layers is None:
        return (n_in, *tuple(default)[1:-1], n_classes)
    if layers[0] != n_in or layers[-1] != n_classes:
        raise UsageError(
            f"--layers {','.join(map(str, layers))}: the data needs {n_in} inputs and "
            f"{n_classes} outputs (e.g. --layers {n_in},64,{n_classes}, or leave --layers out)"
        )
    return tuple(layers)


def run(args: argparse.Namespace) -> int:
    """Run ``anyarray-nn train``; return the exit status."""
    from ..backend import resolve_backend
    from ..experiments import run_experiment

    check_train(args)  # outputs and settings, before any minute of work
    spec, config = _configs(args)
    # Fail on an unusable backend before loading the data.
    backend = resolve_backend(args.backend, device(args.device))
    t_start = time.perf_counter()
    data = load_data(
        args, train_size=args.train_size, validation_size=args.validation_size, seed=args.seed
    )
    spec.sizes = sizes_for_data(args.layers, spec.sizes, data)
    check_data(args, data)
    check_disk_space(args, spec.sizes)
    say(
        args,
        f"training {'-'.join(map(str, spec.sizes))} ({spec.activation}, {spec.cost}) on "
        f"{data.sizes()['train']} images with {config.optimizer} lr {config.learning_rate:g}, "
        f"{config.epochs} epochs, backend {backend.name}",
    )
    result = run_experiment(
        data,
        spec,
        config,
        backend=backend,
        progress=args.progress,
        checkpoint=args.checkpoint,
        resume=args.resume,
        callback=epoch_printer(args),
    )
    wall = time.perf_counter() - t_start
    evaluation = result.evaluation
    print(
        f"test accuracy {100 * evaluation.accuracy:.2f}% (cost {evaluation.cost:.4f}, "
        f"{evaluation.n_samples} test images), wall time {wall:.1f} s",
        flush=True,
    )
    _write_outputs(args, result, data, backend.name, wall)
    return 0


def _write_outputs(
    args: argparse.Namespace, result: Any, data: Any, backend_name: str, wall: float
) -> None:
    """``--save``, ``--json`` and ``--plot``."""
    evaluation = result.evaluation
    config = {
        **result.config,
        "backend": backend_name,
        "data": {
            **data.sizes(),
            "train_size": args.train_size,
            "dataset": data.name,  # predict and evaluate default to it
            "class_names": list(data.class_names or ()),
        },
    }
    if args.save is not None:
        from ..persistence import save_network

        training = {
            **config,
            "test_accuracy": evaluation.accuracy,
            "epochs_run": len(result.history),
        }
        saved = save_network(result.network, args.save, training=training)
        say(args, f"saved the network to {saved}")
    if args.json is not None:
        write_json_output(args.json, _json_payload(result, config, wall))
        say(args, f"wrote {args.json}")
    if args.plot is not None:
        from ..plots import save_training_plots

        paths = save_training_plots(
            args.plot,
            history=result.history,
            evaluation=evaluation,
            network=result.network,
            images=data.test_images,
            labels=data.test_labels,
            class_names=data.class_names,
        )
        say(args, f"wrote {len(paths)} figures to {args.plot}")


def _json_payload(result: Any, config: dict[str, Any], wall: float) -> dict[str, Any]:
    """What ``train --json`` writes."""
    evaluation = result.evaluation
    return {
        "command": "train",
        "version": __version__,
        "config": config,
        "history": result.history.to_dict()["epochs"],
        "best_epoch": result.history.best_epoch,
        "stopped_early": result.history.stopped_early,
        "wall_time_seconds": wall,
        "training_seconds": result.history.seconds,
        "metrics": evaluation.to_dict(),
        "test_accuracy": evaluation.accuracy,
        "test_cost": evaluation.cost,
    }
