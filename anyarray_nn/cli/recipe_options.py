"""``anyarray-nn train --recipe NAME``, ``--dropout`` and ``--distortions``.

A recipe (:data:`anyarray_nn.training.recipes.RECIPES`) replaces the defaults of ``train``'s
network and training options; an option given on the command line with a value other than
its default still wins (``--recipe simard --epochs 5``).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from ..data.distortions import DISTORTION_PRESETS
from ..experiments import NetworkSpec
from ..training import TrainingConfig
from ..training.recipes import RECIPES, get_recipe
from .options import Group, finite_float

__all__ = ["add_recipe_options", "apply_recipe"]

#: Option destination -> NetworkSpec field, and -> TrainingConfig field.
_NETWORK_OPTIONS = {
    "layers": "sizes",
    "activation": "activation",
    "output": "output",
    "cost": "cost",
    "init": "init",
}
_TRAINING_OPTIONS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "optimizer": "optimizer",
    "learning_rate": "learning_rate",
    "momentum": "momentum",
    "weight_decay": "weight_decay",
    "schedule": "schedule",
    "step_size": "step_size",
    "gamma": "gamma",
    "patience": "patience",
    "augment": "max_shift",
    "seed": "seed",
    "dropout": "dropout",
    "distortions": "distortions",
}


def add_recipe_options(group: Group, recipe: TrainingConfig) -> None:
    """``--recipe``, ``--dropout`` and ``--distortions`` (defaults from ``recipe``)."""
    group.add_argument(
        "--recipe",
        choices=tuple(RECIPES),
        default=None,
        help="start from a named recipe (network and training; see docs/recipes.md); "
        "options given with other values than their defaults override it",
    )
    group.add_argument(
        "--dropout",
        type=finite_float,
        default=recipe.dropout,
        metavar="RATE",
        help="drop hidden units with this probability in training (default: %(default)s)",
    )
    group.add_argument(
        "--distortions",
        choices=tuple(DISTORTION_PRESETS),
        default=recipe.distortions,
        help="random elastic (light, simard) or elastic + affine (ciresan) distortions of "
        "the training images, on the device (default: %(default)s)",
    )


def apply_recipe(
    args: argparse.Namespace,
    defaults: dict[str, Any],
    spec: NetworkSpec,
    config: TrainingConfig,
) -> tuple[NetworkSpec, TrainingConfig]:
    """The recipe ``args.recipe`` with the options that differ from ``defaults`` applied."""
    recipe = get_recipe(args.recipe)
    given = {k for k, v in vars(args).items() if k in defaults and defaults[k] != v}
    network = {f: getattr(spec, f) for o, f in _NETWORK_OPTIONS.items() if o in given}
    spec = replace(spec, **{**recipe.network, **network})
    training = {f: getattr(config, f) for o, f in _TRAINING_OPTIONS.items() if o in given}
    if "optimizer" in given:  # its own default rate unless --learning-rate says otherwise
        training["learning_rate"] = config.learning_rate
    return spec, TrainingConfig(**{**recipe.config.to_dict(), **training})
