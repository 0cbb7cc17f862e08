"""``predict`` and ``evaluate`` follow the data set a model was trained on (recorded by
``train --save``), or ``--dataset``: the pictures' preparation and the class names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.cli import main
from anyarray_nn.data import load_dataset, write_idx
from anyarray_nn.data.preprocess import mnist_like
from anyarray_nn.nn import Network
from anyarray_nn.persistence import save_network

PIL = pytest.importorskip("PIL.Image", reason="predict reads images with Pillow")

FASHION_ENV_VAR = "ANYARRAY_NN_FASHION_DATA"


def test_fashion_preparation_fills_the_field_and_centres_the_box() -> None:
    picture = np.full((90, 200), 255, np.uint8)  # a dark, wide article on light paper
    picture[30:60, 20:140] = 0
    out = mnist_like(picture, box=28, centre="box")
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert (cols[0], cols[-1]) == (0, 27)  # the longer side fills the field
    assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 0.5  # the box is centred
    assert out.max() == 255 and out[0, 0] == 0  # white on black, as in Fashion-MNIST
    with pytest.raises(ValueError, match="centre"):
        mnist_like(picture, centre="middle")


@pytest.fixture(scope="module")
def fashion_dir() -> Path:
    folder = os.environ.get(FASHION_ENV_VAR)
    if not folder:
        pytest.skip(f"{FASHION_ENV_VAR} is not set (real Fashion-MNIST files; .ci/run sets it)")
    return Path(folder)


@pytest.fixture(scope="module")
def fashion_model(fashion_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("fashion") / "m.npz"
    argv = ["train", "--dataset", "fashion-mnist", "--data-dir", str(fashion_dir)]
    argv += ["--train-size", "20000", "--epochs", "5", "--layers", "784,100,10", "-q"]
    assert main([*argv, "--save", str(model)]) == 0
    return model


def _photographs(folder: Path, fashion_dir: Path, n: int = 100) -> tuple[list[str], np.ndarray]:
    """Test images as a user's pictures: dark on white paper, 3x larger, off-centre."""
    from PIL import Image

    data = load_dataset("fashion-mnist", fashion_dir, download=False)
    picks = np.random.default_rng(0).choice(len(data.test_labels), n, replace=False)
    paths = []
    for k, i in enumerate(picks):
        big = Image.fromarray(255 - data.test_images[i]).resize((84, 84), Image.Resampling.BICUBIC)
        canvas = Image.new("L", (120, 100), 255)
        canvas.paste(big, (20 + k % 10, 8))
        canvas.save(folder / f"{k:03d}.png")
        paths.append(str(folder / f"{k:03d}.png"))
    return paths, data.test_labels[picks]


def _accuracy(json_path: Path, labels: np.ndarray) -> float:
    predictions = json.loads(json_path.read_text())["predictions"]
    return float(np.mean([p["prediction"] for p in predictions] == labels))


def test_predict_prepares_pictures_as_the_models_data_set(
    fashion_dir: Path, fashion_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths, labels = _photographs(tmp_path, fashion_dir)
    # The model recorded its data set: Fashion-MNIST's preparation and names by default.
    assert main(["predict", str(fashion_model), *paths, "--json", str(tmp_path / "f.json")]) == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "f.json").read_text())
    assert result["dataset"] == "fashion-mnist" and result["class_names"][9] == "Ankle boot"
    first = result["predictions"][0]
    assert f"{first['prediction']} {first['class_name']} (" in out.splitlines()[0]
    fashion = _accuracy(tmp_path / "f.json", labels)
    # The digits' preparation (20x20, centre of mass) costs Fashion-MNIST much accuracy:
    # measured 82% against 40% on these 100 pictures.
    argv = ["predict", str(fashion_model), *paths, "--dataset", "mnist"]
    assert main([*argv, "--json", str(tmp_path / "d.json")]) == 0
    digits = _accuracy(tmp_path / "d.json", labels)
    assert fashion >= 0.7 and fashion >= digits + 0.2, (fashion, digits)


def test_evaluate_defaults_to_the_models_data_set(
    fashion_dir: Path, fashion_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = tmp_path / "e.json"
    argv = ["evaluate", str(fashion_model), "--data-dir", str(fashion_dir)]
    assert main([*argv, "--json", str(out_json)]) == 0
    assert "9 Ankle boot" in capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert result["dataset"] == "fashion-mnist" and result["test_accuracy"] > 0.8


def test_predict_on_a_model_of_an_unnamed_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    folder = tmp_path / "letters"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 260), ("t10k", 52)):
        labels = (np.arange(n) % 26).astype(np.uint8)
        write_idx(
            folder / f"{split}-images-idx3-ubyte", rng.integers(0, 255, (n, 32, 32), np.uint8)
        )
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels)
    model = tmp_path / "m.npz"
    assert main(["train", "--data-dir", str(folder), "--no-verify", "--epochs", "1", "-q",
                 "--save", str(model)]) == 0  # fmt: skip
    picture = tmp_path / "a.png"
    Image.fromarray(rng.integers(0, 255, (50, 40), np.uint8)).save(picture)
    assert main(["predict", str(model), str(picture), "--json", str(tmp_path / "p.json")]) == 0
    result = json.loads((tmp_path / "p.json").read_text())
    assert result["dataset"] is None and len(result["class_names"]) == 26
    assert len(result["predictions"][0]["outputs"]) == 26
    capsys.readouterr()


def test_a_model_with_odd_records_predicts_digits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = save_network(
        Network([784, 8, 10], seed=0),
        tmp_path / "odd.npz",
        training={"data": {"dataset": ["not", "a", "name"], "class_names": 5}},
    )
    picture = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(picture)
    assert main(["predict", str(model), str(picture), "--json", str(tmp_path / "p.json")]) == 0
    result = json.loads((tmp_path / "p.json").read_text())
    assert result["dataset"] == "mnist" and result["class_names"][3] == "3"
    # Names that would write escape sequences to the terminal are not used.
    hostile = save_network(
        Network([784, 8, 2], seed=0),
        tmp_path / "hostile.npz",
        training={"data": {"class_names": ["\x1b]0;pwned\x07", "b"]}},
    )
    assert main(["predict", str(hostile), str(picture)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "pwned" not in out
    # A network whose input is not a square image cannot read pictures.
    wide = save_network(Network([700, 8, 10], seed=0), tmp_path / "wide.npz")
    assert main(["predict", str(wide), str(picture)]) == 1
    assert "700 inputs, not a square image" in capsys.readouterr().err
