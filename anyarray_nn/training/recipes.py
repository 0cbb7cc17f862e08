"""Named training recipes: a network and its training configuration, the one home of both.

``anyarray-nn train --recipe NAME`` starts from a recipe (options given on the command line
still override its values); ``anyarray-nn paper``'s last row is :data:`ESSAY_EVERYTHING`.
Measured accuracies and times, with their commands, are in ``docs/recipes.md``.

==================  =====================================================================
name                what
==================  =====================================================================
``essay``           the essay's final network: 784-64-10, ReLU hidden, sigmoid output,
                    quadratic cost, N(0, 1/n) weights, SGD 1.5, batch 1000, L2 1e-5,
                    one-pixel shifts (90.8% in the essay)
``default``         ``anyarray-nn train``'s defaults (:data:`~.config.MNIST_RECIPE`)
``essay-plus``      the same 784-64-10 with everything the library knows: softmax +
                    cross-entropy, He weights, Adam with a cosine schedule, L2, shifts
                    and light elastic distortions, 60 epochs
``simard``          Simard et al. 2003: 784-800-10 with elastic distortions (99.3% there)
``cpu-best``        784-800-800-10, elastic + affine distortions: the best a 2-core CPU
                    reaches in about 30 minutes
``ciresan-gpu``     a deep MLP in the style of Ciresan et al. 2010 (their 784-2500-2000-
                    1500-1000-500-10 reached 99.65% after many epochs on a GPU), elastic +
                    affine distortions; for GPUs (``--backend cupy``)
==================  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .config import MNIST_RECIPE, TrainingConfig

__all__ = ["ESSAY_EVERYTHING", "RECIPES", "Recipe", "get_recipe"]


@dataclass(frozen=True)
class Recipe:
    """A network (as the keyword arguments of :class:`~anyarray_nn.nn.network.Network`,
    ``sizes`` included) and a :class:`~.config.TrainingConfig`.

    Attributes
    ----------
    name : str
    description : str
    network : dict
        ``sizes`` (tuple of int), ``activation``, ``output``, ``cost``, ``init``.
    config : TrainingConfig
    """

    name: str
    description: str
    network: dict[str, Any] = field(default_factory=dict)
    config: TrainingConfig = field(default_factory=TrainingConfig)


def _net(sizes: tuple[int, ...], **kwargs: str) -> dict[str, Any]:
    base = {"activation": "relu", "output": "softmax", "cost": "cross_entropy", "init": "he"}
    return {"sizes": sizes, **base, **kwargs}


_ADAM_COSINE = replace(MNIST_RECIPE, max_shift=0)

#: The essay's 784-64-10 with everything the library knows (``anyarray-nn paper``'s last row).
ESSAY_EVERYTHING = Recipe(
    "essay-plus",
    "784-64-10 with softmax + cross-entropy, He weights, Adam + cosine, L2 5e-5, one-pixel "
    "shifts and light elastic distortions (sigma 4, alpha 12), 60 epochs",
    _net((784, 64, 10)),
    replace(MNIST_RECIPE, epochs=60, distortions="light"),
)

#: Every recipe, by name: the one table ``--recipe`` takes its choices from.
RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "essay",
            "the essay's final network: ReLU hidden, sigmoid output, quadratic cost, "
            "N(0, 1/n) weights, SGD 1.5 on batches of 1000, L2 1e-5, one-pixel shifts",
            _net((784, 64, 10), output="sigmoid", cost="quadratic", init="lecun"),
            TrainingConfig(
                epochs=10,
                batch_size=1000,
                optimizer="sgd",
                learning_rate=1.5,
                weight_decay=1e-5,
                max_shift=1,
            ),
        ),
        Recipe("default", "anyarray-nn train's defaults", _net((784, 64, 10)), MNIST_RECIPE),
        ESSAY_EVERYTHING,
        Recipe(
            "simard",
            "Simard et al. 2003: 784-800-10 with elastic distortions (sigma 4, alpha 34)",
            _net((784, 800, 10)),
            replace(_ADAM_COSINE, epochs=40, weight_decay=0.0, distortions="simard"),
        ),
        Recipe(
            "cpu-best",
            "784-800-800-10 with elastic + affine distortions (Ciresan's ranges), Adam + "
            "cosine: the CPU recipe",
            _net((784, 800, 800, 10)),
            replace(
                _ADAM_COSINE, epochs=50, learning_rate=1e-3, weight_decay=0.0, distortions="ciresan"
            ),
        ),
        Recipe(
            "ciresan-gpu",
            "a deep MLP in Ciresan et al.'s style, 784-2500-2000-1500-1000-500-10, elastic + "
            "affine distortions, Adam + cosine; for a GPU",
            _net((784, 2500, 2000, 1500, 1000, 500, 10)),
            replace(
                _ADAM_COSINE,
                epochs=100,
                learning_rate=5e-4,
                weight_decay=0.0,
                batch_size=256,
                distortions="ciresan",
            ),
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}") from None
