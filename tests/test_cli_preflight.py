"""The command line refuses bad outputs and settings before training, and shows one line
for every bad input, bad file or exhausted resource (issue 13, findings 7, 8 and 9)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn import Network
from anyarray_nn.cli import main
from anyarray_nn.cli.errors import last_resort
from anyarray_nn.persistence import save_network
from tests.test_cli import _assert_one_line_error, _run


def _train(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return _run(capsys, "train", "--no-progress", "--data-dir", "/nonexistent-on-purpose", *argv)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--gamma", "-1"], "must be in (0, 1]"),
        (["--gamma", "1.5"], "must be in (0, 1]"),
        (["--augment", "100"], "move the digits out of the"),
        (["--save", "X", "--json", "X.npz"], "--save and --json name the same file"),
        (["--checkpoint", "c.npz", "--save", "c.npz"], "--save and --checkpoint"),
        (["--checkpoint", "c", "--save", "c.best"], "best model"),
    ],
)
def test_refused_before_any_data_is_loaded(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    needle: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _train(capsys, *argv)  # the data folder does not exist: never reached
    assert code == 2
    _assert_one_line_error(err, needle)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_and_wrong_kinds_of_outputs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("x")
    code, _, err = _train(capsys, "--save", str(tmp_path / "a-file" / "m.npz"))
    assert code == 2
    _assert_one_line_error(err, "is not a folder")
    code, _, err = _train(capsys, "--json", str(tmp_path))
    _assert_one_line_error(err, "is a folder")
    code, _, err = _train(capsys, "--plot", str(tmp_path / "a-file"))
    _assert_one_line_error(err, "is a file")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = _train(capsys, "--save", str(locked / "m.npz"))
        _assert_one_line_error(err, "not writable")


def test_plot_without_matplotlib(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    code, _, err = _train(capsys, "--plot", str(tmp_path / "plots"))
    assert code == 2
    _assert_one_line_error(err, "--plot needs matplotlib")


@pytest.mark.mnist
def test_train_size_above_the_data(capsys: pytest.CaptureFixture[str], mnist_dir: Path) -> None:
    code, _, err = _run(
        capsys, "train", "--data-dir", str(mnist_dir), "--train-size", "100000", "--epochs", "1"
    )
    assert code == 2
    _assert_one_line_error(err, "--train-size 100000 is more than the 60000")


@pytest.mark.mnist
def test_huge_finite_cost_is_divergence(
    capsys: pytest.CaptureFixture[str], mnist_dir: Path
) -> None:
    # Before: learning rate 1e4 trained to a cost of 1e17, every ReLU dead, and exited 0.
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
        "1e4",
        "--no-progress",
    )
    assert code == 1
    _assert_one_line_error(err, "training diverged in epoch 1")


def test_dead_layer_is_divergence() -> None:
    from anyarray_nn.training import DivergenceError, train

    net = Network([4, 3, 2], seed=0)
    Ws, bs = net.get_weights()
    net.set_weights([np.full_like(Ws[0], -1.0), Ws[1]], [np.full_like(bs[0], -1.0), bs[1]])
    images = np.random.default_rng(0).integers(0, 256, (32, 4), dtype=np.uint8)
    with pytest.raises(DivergenceError, match="hidden layer 1 was saturated"):
        train(net, images, np.arange(32) % 2, epochs=1, progress=False, learning_rate=1e-6)


def test_model_with_absurd_weights(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Before: `predict` printed "0 (nan%)" for weights of 3e38.
    net = Network([784, 3, 10], seed=0)
    Ws, bs = net.get_weights()
    Ws[0][:] = 3e38
    net.set_weights(Ws, bs)
    path = save_network(net, tmp_path / "m.npz")
    code, _, err = _run(capsys, "evaluate", str(path), "--data-dir", str(tmp_path))
    assert code == 1
    _assert_one_line_error(err, "above the 1e+06 a trained network has")


def test_hostile_model_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = save_network(Network([784, 3, 10], seed=0), tmp_path / "m.npz")
    raw = bytearray(path.read_bytes())
    record = raw.rindex(b"PK\x01\x02", 0, raw.rindex(b"W0.npy"))
    raw[record + 8] |= 0x1  # "encrypted": zipfile would raise RuntimeError
    path.write_bytes(bytes(raw))
    code, _, err = _run(capsys, "evaluate", str(path), "--data-dir", str(tmp_path))
    assert code == 1
    _assert_one_line_error(err, "encrypted")


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (MemoryError(), "out of memory"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    ],
)
def test_last_resort_errors_are_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
    needle: str,
) -> None:
    from anyarray_nn.cli import train as train_command

    def boom(args: object) -> int:
        raise exc

    monkeypatch.setattr(train_command, "check_train", boom)
    code, _, err = _train(capsys)
    assert code == 1
    _assert_one_line_error(err, needle)
    monkeypatch.setenv("ANYARRAY_NN_DEBUG", "1")
    with pytest.raises(type(exc)):
        main(["train", "--no-progress"])


def test_pillow_bomb_and_bugs() -> None:
    from PIL import Image

    assert last_resort(Image.DecompressionBombError("too many pixels")) is not None
    assert last_resort(zipfile.BadZipFile("x")) is not None
    assert last_resort(KeyError("a bug of ours")) is None  # bugs keep their traceback


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "model.npz", "--json", "{file}/out.json"],
        ["evaluate", "model.npz", "--plot", "{file}"],
        ["predict", "model.npz", "digit.png", "--json", "{folder}"],
        ["paper", "--json", "{file}/out.json"],
        ["tune", "--json", "{file}/out.json"],
    ],
    ids=["evaluate-json", "evaluate-plot", "predict-json", "paper-json", "tune-json"],
)
def test_every_command_checks_its_outputs_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    """An output that cannot be written is refused (exit 2) before the model or the data is
    even read: the model and image named here do not exist."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    argv = [a.format(file=a_file, folder=tmp_path) for a in argv]
    code, _, err = _run(capsys, *argv)
    assert code == 2, err
    _assert_one_line_error(err)
    assert "model.npz" not in err and "digit.png" not in err


def test_too_little_disk_space_is_refused_before_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    code, _, err = _train(capsys, "--layers", "784,64,10", "--save", str(tmp_path / "model.npz"))
    assert code == 2, err
    _assert_one_line_error(err, "MB needed", "free")


def test_missing_extras_are_said_before_any_data_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now fails
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    missing = tmp_path / "no-mnist-here"  # reading it would be a different error
    missing.mkdir()
    monkeypatch.setenv("ANYARRAY_NN_DATA", str(missing))
    assert main(["tune", "--n-trials", "1"]) == 1
    err = capsys.readouterr().err
    assert "needs Optuna: pip install 'anyarray-nn[tune]'" in err and "MNIST" not in err
    assert main(["train", "--plot", str(tmp_path / "figs")]) == 2
    assert "pip install 'anyarray-nn[plot]'" in capsys.readouterr().err
