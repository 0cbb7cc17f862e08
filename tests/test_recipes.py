"""Recipes: one table, valid configurations, and ``train --recipe`` with overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from anyarray_nn.cli.main import build_parser
from anyarray_nn.cli.train import _configs
from anyarray_nn.data.distortions import DISTORTION_PRESETS
from anyarray_nn.experiments import NetworkSpec
from anyarray_nn.experiments.paper import PAPER_STEPS
from anyarray_nn.training import MNIST_RECIPE, TrainingConfig
from anyarray_nn.training.recipes import ESSAY_EVERYTHING, RECIPES, get_recipe

DOCS = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"


def test_the_recipes_the_issue_asks_for() -> None:
    assert {"essay", "default", "simard", "ciresan-gpu", "cpu-best", "essay-plus"} <= set(RECIPES)
    assert RECIPES["default"].config == MNIST_RECIPE
    simard = RECIPES["simard"]
    assert simard.network["sizes"] == (784, 800, 10) and simard.config.distortions == "simard"
    assert len(RECIPES["ciresan-gpu"].network["sizes"]) >= 5  # a deep MLP
    essay = RECIPES["essay"]
    assert essay.network["sizes"] == (784, 64, 10) and essay.config.optimizer == "sgd"


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_is_a_valid_network_and_config(name: str) -> None:
    recipe = get_recipe(name)
    assert recipe.name == name and recipe.description
    assert isinstance(recipe.config, TrainingConfig)
    assert recipe.config.distortions in DISTORTION_PRESETS
    spec = NetworkSpec(**recipe.network)  # every key is a network field
    assert spec.sizes[0] == 784 and spec.sizes[-1] == 10
    if sum(spec.sizes) < 2000:
        spec.build()  # small ones are built for real
    assert f"`{name}`" in DOCS.read_text(encoding="utf-8")  # documented with its numbers


def test_unknown_recipe() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        get_recipe("magic")


def test_paper_last_row_is_essay_everything() -> None:
    last = PAPER_STEPS[-1]
    assert last.spec.sizes == (784, 64, 10)
    assert last.config == ESSAY_EVERYTHING.config


def test_train_recipe_option_and_overrides() -> None:
    parser = build_parser()
    spec, config = _configs(parser.parse_args(["train", "--recipe", "simard"]))
    recipe = RECIPES["simard"]
    assert tuple(spec.sizes) == recipe.network["sizes"]
    assert config == recipe.config
    spec, config = _configs(
        parser.parse_args(["train", "--recipe", "simard", "--epochs", "3", "--dropout", "0.1"])
    )
    assert config.epochs == 3 and config.dropout == 0.1
    assert config.distortions == "simard" and tuple(spec.sizes) == (784, 800, 10)
    spec, config = _configs(
        parser.parse_args(["train", "--recipe", "essay", "--layers", "784,32,10"])
    )
    assert tuple(spec.sizes) == (784, 32, 10) and spec.cost == "quadratic"
    assert config.learning_rate == 1.5
    # Without --recipe nothing changes: the defaults are MNIST_RECIPE's.
    _, config = _configs(parser.parse_args(["train"]))
    assert config == MNIST_RECIPE


def test_bad_recipe_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from anyarray_nn.cli.main import main

    assert main(["train", "--recipe", "magic"]) == 2
    assert "--recipe" in capsys.readouterr().err
