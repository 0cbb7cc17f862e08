"""The ``anyarray-nn`` command line: exit codes, one-line errors, JSON output, figures."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CUPY  # the one GPU probe (tests/conftest.py), run once

from anyarray_nn import Network
from anyarray_nn.cli.main import REGISTRARS, build_parser, main
from anyarray_nn.data.images import ImageFileError, load_digit_image
from anyarray_nn.persistence import save_network


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("anyarray-nn: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def no_mnist_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ANYARRAY_NN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# ---------------------------------------------------------------- argument errors


def test_subcommands_registered(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(REGISTRARS) >= 5
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for command in ("train", "evaluate", "predict", "paper", "tune"):
        assert command in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys)
    assert code == 2 and "train" in err and "paper" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--epochs", "many"], "--epochs"),
        (["train", "--layers", "784,64"], "--layers"),
        (["train", "--layers", "784,x,10"], "--layers"),
        (["train", "--backend", "dask"], "--backend"),
        (["train", "--patience", "3"], "--validation-size"),
        (["train", "--resume"], "--checkpoint"),
        (["train", "--learning-rate", "nan"], "--learning-rate"),
        (["frobnicate"], "frobnicate"),
        (["predict", "model.npz"], "IMAGE"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    _assert_one_line_error(err, needle)


def test_train_defaults_are_the_recipe_and_the_network_spec() -> None:
    from anyarray_nn.cli.train import sizes_for_data
    from anyarray_nn.experiments import NetworkSpec
    from anyarray_nn.training import DEFAULT_LEARNING_RATES, MNIST_RECIPE

    args = build_parser().parse_args(["train"])
    spec = NetworkSpec()
    assert args.layers is None  # from the data: the spec's hidden layers between them
    data = type("Data", (), {"n_inputs": 784, "n_classes": 10})()
    assert sizes_for_data(None, spec.sizes, data) == tuple(spec.sizes)
    for name in ("activation", "output", "cost", "init", "dtype", "seed"):
        assert getattr(args, name) == getattr(spec, name), name
    recipe = {
        "epochs": MNIST_RECIPE.epochs,
        "batch_size": MNIST_RECIPE.batch_size,
        "optimizer": MNIST_RECIPE.optimizer,
        "momentum": MNIST_RECIPE.momentum,
        "weight_decay": MNIST_RECIPE.weight_decay,
        "schedule": MNIST_RECIPE.schedule,
        "step_size": MNIST_RECIPE.step_size,
        "gamma": MNIST_RECIPE.gamma,
        "patience": MNIST_RECIPE.patience,
        "augment": MNIST_RECIPE.max_shift,
        "seed": MNIST_RECIPE.seed,
    }
    assert {name: getattr(args, name) for name in recipe} == recipe
    assert args.learning_rate is None  # resolved per optimiser:
    from anyarray_nn.cli.train import default_learning_rate

    assert default_learning_rate(MNIST_RECIPE.optimizer) == MNIST_RECIPE.learning_rate
    from anyarray_nn.cli.train import DESCRIPTION  # prose: guard it against the recipe

    assert "-".join(map(str, spec.sizes)) in DESCRIPTION
    assert MNIST_RECIPE.schedule in DESCRIPTION and MNIST_RECIPE.optimizer in DESCRIPTION.lower()
    for optimizer, rate in DEFAULT_LEARNING_RATES.items():
        if optimizer != MNIST_RECIPE.optimizer:
            assert default_learning_rate(optimizer) == rate


def _options(command: str) -> dict[str, argparse.Action]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in subparsers.choices[command]._actions}


def test_choices_are_the_name_tables() -> None:
    from anyarray_nn.backend import BACKEND_NAMES
    from anyarray_nn.nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
    from anyarray_nn.nn.costs import COSTS
    from anyarray_nn.nn.initializers import INITS
    from anyarray_nn.nn.optimizers import OPTIMIZERS
    from anyarray_nn.training import SCHEDULES
    from anyarray_nn.tuning import SAMPLERS

    train = _options("train")
    tables = {
        "activation": HIDDEN_ACTIVATIONS,
        "output": OUTPUT_ACTIVATIONS,
        "cost": COSTS,
        "init": INITS,
        "optimizer": OPTIMIZERS,
        "schedule": SCHEDULES,
        "backend": BACKEND_NAMES,
    }
    for dest, table in tables.items():
        assert tuple(train[dest].choices) == tuple(table), dest
    for command in ("evaluate", "predict", "paper", "tune"):
        assert tuple(_options(command)["backend"].choices) == tuple(BACKEND_NAMES)
    assert tuple(_options("tune")["sampler"].choices) == tuple(SAMPLERS)


def test_tune_defaults_are_the_library_defaults() -> None:
    from anyarray_nn.tuning import DEFAULT_STUDY_NAME, tune

    options = _options("tune")
    defaults = inspect.signature(tune).parameters
    for dest in ("n_trials", "timeout", "epochs", "sampler", "storage", "seed", "backend"):
        assert options[dest].default == defaults[dest].default, dest
    assert options["study_name"].default == DEFAULT_STUDY_NAME


@pytest.mark.parametrize(
    ("command", "hint"),
    [("train", ""), ("tune", "; run the same command again to resume the study")],
)
def test_interrupted_exits_130(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    hint: str,
) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    module = importlib.import_module(f"anyarray_nn.cli.{command}")
    monkeypatch.setattr(module, "run", interrupted)
    code, _, err = _run(capsys, command)
    assert code == 130
    assert err == f"anyarray-nn: interrupted{hint}\n"


def test_tune_module_delegates_to_the_one_main() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "anyarray_nn.cli.tune", "--n-trials", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    _assert_one_line_error(proc.stderr, "--n-trials")


def test_missing_data_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "train", "--data-dir", str(tmp_path / "nowhere"), "--epochs", "1")
    assert code == 1
    _assert_one_line_error(err, "nowhere")


def test_data_dir_without_mnist_and_no_download(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_mnist_env: None
) -> None:
    code, _, err = _run(capsys, "paper", "--data-dir", str(tmp_path), "--no-download")
    assert code == 1
    _assert_one_line_error(err, "train-images")


@pytest.mark.skipif(CUPY.usable, reason="a usable GPU is present")
def test_unusable_backend(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "train", "--backend", "cupy", "--epochs", "1")
    assert code == 1
    _assert_one_line_error(err, "cupy")


def test_missing_model_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "evaluate", str(tmp_path / "absent.npz"))
    assert code == 1
    _assert_one_line_error(err, "absent.npz")


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "anyarray_nn", "train", "--batch-size", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    _assert_one_line_error(proc.stderr, "--batch-size")


# ---------------------------------------------------------------- predict (no MNIST needed)


def _save_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(pixels.astype(np.uint8), mode="L").save(path)
    return path


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return save_network(Network([784, 8, 10], seed=0), tmp_path / "tiny.npz")


def test_predict_png_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model: Path
) -> None:
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 13:16] = 255  # a white "1" on black, as in MNIST
    small = _save_png(tmp_path / "one.png", digit)
    big = _save_png(tmp_path / "big.png", np.kron(255 - digit, np.ones((4, 4), np.uint8)))
    out_json = tmp_path / "pred.json"
    code, out, _ = _run(
        capsys, "predict", str(tiny_model), str(small), str(big), "--json", str(out_json)
    )
    assert code == 0
    assert "one.png" in out and "big.png" in out
    result = json.loads(out_json.read_text())
    assert len(result["predictions"]) == 2
    for p in result["predictions"]:
        assert 0 <= p["prediction"] <= 9 and len(p["outputs"]) == 10
    # The resized black-on-white copy becomes the same white-on-black digit.
    assert result["predictions"][0]["prediction"] == result["predictions"][1]["prediction"]


def test_predict_unreadable_image(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model: Path
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    code, _, err = _run(capsys, "predict", str(tiny_model), str(bad))
    assert code == 1
    _assert_one_line_error(err, "bad.png", "not a readable image")
    code, _, err = _run(capsys, "predict", str(tiny_model), str(tmp_path / "gone.png"))
    assert code == 1
    _assert_one_line_error(err, "gone.png")


def test_load_digit_image_inversion(tmp_path: Path) -> None:
    paper = np.full((40, 30), 250, np.uint8)
    paper[10:30, 14:17] = 10  # dark stroke on light paper
    path = _save_png(tmp_path / "paper.png", paper)
    auto = load_digit_image(path)
    assert auto.shape == (28, 28) and auto.dtype == np.uint8
    assert auto[0, 0] < 20 and auto.max() > 200  # background black, stroke white
    assert load_digit_image(path, invert="no", preprocess="resize")[0, 0] > 200
    with pytest.raises(ImageFileError):
        load_digit_image(tmp_path / "missing.png")


def test_plots_from_python(tmp_path: Path) -> None:
    from anyarray_nn.metrics import evaluate
    from anyarray_nn.plots import save_training_plots
    from anyarray_nn.training import train

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(64, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=64)
    net = Network([784, 6, 10], seed=0)
    history = train(net, images, labels, epochs=2, progress=False)
    evaluation = evaluate(net, images, labels)
    paths = save_training_plots(
        tmp_path,
        history=history,
        evaluation=evaluation,
        network=net,
        images=images,
        labels=labels,
    )
    assert {p.name for p in paths} == {
        "learning_curves.png",
        "confusion_matrix.png",
        "misclassified.png",
        "first_layer_weights.png",
    }
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- real MNIST


@pytest.mark.mnist
def test_train_json_save_evaluate_plot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mnist_dir: Path
) -> None:
    out_json, model, plots = tmp_path / "run.json", tmp_path / "m.npz", tmp_path / "plots"
    code, out, _ = _run(
        capsys,
        "train",
        "--data-dir",
        str(mnist_dir),
        "--train-size",
        "2000",
        "--epochs",
        "1",
        "--json",
        str(out_json),
        "--save",
        str(model),
        "--plot",
        str(plots),
        "--no-progress",
    )
    assert code == 0, out
    assert "test accuracy" in out
    run = json.loads(out_json.read_text())
    for key in ("config", "history", "wall_time_seconds", "metrics", "test_accuracy"):
        assert key in run
    assert 0.5 < run["test_accuracy"] <= 1.0
    assert len(run["history"]) == 1 and "saturation" in run["history"][0]
    assert run["config"]["network"]["sizes"] == [784, 64, 10]
    assert run["config"]["data"]["train"] == 2000
    assert len(run["metrics"]["confusion_matrix"]) == 10
    assert (plots / "learning_curves.png").is_file()

    eval_json = tmp_path / "eval.json"
    code, out, _ = _run(
        capsys,
        "evaluate",
        str(model),
        "--data-dir",
        str(mnist_dir),
        "--json",
        str(eval_json),
    )
    assert code == 0
    assert "confusion matrix" in out and "precision" in out
    evaluation = json.loads(eval_json.read_text())
    assert evaluation["test_accuracy"] == pytest.approx(run["test_accuracy"])


@pytest.mark.mnist
def test_divergence_is_one_line(capsys: pytest.CaptureFixture[str], mnist_dir: Path) -> None:
    code, _, err = _run(
        capsys,
        "train",
        "--data-dir",
        str(mnist_dir),
        "--train-size",
        "500",
        "--epochs",
        "2",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "1e12",
        "--batch-size",
        "50",
        "--no-progress",
    )
    assert code == 1
    _assert_one_line_error(err, "diverged in epoch 1", "smaller learning rate")


@pytest.mark.mnist
def test_paper_five_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mnist_dir: Path
) -> None:
    out_json = tmp_path / "paper.json"
    code, out, _ = _run(
        capsys,
        "paper",
        "--data-dir",
        str(mnist_dir),
        "--train-size",
        "1000",
        "--epochs",
        "1",
        "--json",
        str(out_json),
        "--no-progress",
    )
    assert code == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert len(rows) == 6
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    for r in rows:
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert 0.0 <= r["saturation_last_epoch"] <= 1.0
        assert r["mean_abs_delta1_last_epoch"] > 0.0
    assert rows[4]["train_samples"] == 5 * 1000  # the expanded data
    assert out.count("\n| ") >= 6  # the table
