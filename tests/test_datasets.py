"""Data sets by name and any IDX folder: loading, checksums, the CLI on 26 classes of 32x32."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.cli import main
from anyarray_nn.data import (
    DATASET_NAMES,
    DATASETS,
    MNIST_FILES,
    ChecksumError,
    MNISTNotFoundError,
    load_dataset,
    load_idx_folder,
    write_idx,
)
from anyarray_nn.data.datasets import KMNIST_ARCHIVES, find_idx_files
from anyarray_nn.experiments import prepare_data

#: Where tests find the real Fashion-MNIST files (CI: Debian's dataset-fashion-mnist).
FASHION_ENV_VAR = "ANYARRAY_NN_FASHION_DATA"


def _letters(folder: Path, n_train: int = 520, n_test: int = 130, *, seed: int = 0) -> Path:
    """An IDX folder of 26 classes of 32x32 images: class c lights up row block c."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 26).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, 32, 32)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, c : c + 4, 4:28] = 250  # a bar whose height says the class
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    return folder


def test_the_named_sets_have_class_names_and_mirrors() -> None:
    assert DATASET_NAMES == ("mnist", "fashion-mnist", "kmnist")
    for info in DATASETS.values():
        assert len(info.class_names) == 10
        assert info.mirrors and all(m.startswith(("http://", "https://")) for m in info.mirrors)
    assert DATASETS["fashion-mnist"].class_names[9] == "Ankle boot"
    assert all(info.verifiable for info in DATASETS.values())
    # KMNIST: the archives' digests (the decompressed files' are not recorded; docs/data.md)
    kmnist = DATASETS["kmnist"]
    assert kmnist.sha256 is None and kmnist.archives == KMNIST_ARCHIVES
    assert set(KMNIST_ARCHIVES) == set(MNIST_FILES)
    for size, sha in KMNIST_ARCHIVES.values():
        assert size > 5000 and len(sha) == 64 and int(sha, 16) >= 0


def test_an_idx_folder_of_any_size_and_classes(tmp_path: Path) -> None:
    data = load_idx_folder(_letters(tmp_path / "letters"))
    assert data.n_classes == 26 and data.image_shape == (32, 32)
    assert data.class_names[25] == "25" and data.name is None
    same = load_dataset(None, tmp_path / "letters", verify=False)
    assert same.n_classes == 26


def test_other_spellings_of_the_files_are_found(tmp_path: Path) -> None:
    folder = _letters(tmp_path / "x")
    for path in folder.iterdir():
        path.rename(folder / f"emnist-letters-{path.name.replace('t10k', 'test')}")
    found = find_idx_files(folder)
    assert len(found) == 4 and found["t10k-labels-idx1-ubyte"].name.startswith("emnist-")
    assert load_idx_folder(folder).n_classes == 26


def test_verification_names_the_command_line_flag(tmp_path: Path) -> None:
    folder = _letters(tmp_path / "letters")
    with pytest.raises(ChecksumError, match="--no-verify"):
        load_dataset("fashion-mnist", folder, download=False)
    with pytest.raises(ChecksumError, match=r"\.gz archive as published.*--no-verify"):
        load_dataset("kmnist", folder, download=False)
    # KMNIST's names do not fit 26 classes: the label values name them instead.
    assert load_dataset("kmnist", folder, verify=False).class_names[1] == "1"


def test_missing_files_without_download(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MNISTNotFoundError, match="lacks"):
        load_dataset("fashion-mnist", tmp_path / "empty", download=False)
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("cifar", tmp_path)


def test_prepare_data_keeps_class_names(tmp_path: Path) -> None:
    data = prepare_data(_letters(tmp_path / "l"), verify=False, validation_size=26)
    assert data.n_classes == 26 and data.n_inputs == 1024
    assert data.validation_images.shape == (26, 32, 32)


def test_cli_trains_26_classes_of_32x32_with_only_data_dir_and_no_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _letters(tmp_path / "letters")
    out_json = tmp_path / "run.json"
    argv = ["train", "--data-dir", str(folder), "--no-verify", "--epochs", "8"]
    assert main([*argv, "--json", str(out_json), "--save", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert "training 1024-64-26" in out
    run = json.loads(out_json.read_text())
    assert run["config"]["network"]["sizes"] == [1024, 64, 26]
    assert run["test_accuracy"] > 0.5  # chance is 1/26
    code = main(["evaluate", str(tmp_path / "m.npz"), "--data-dir", str(folder), "--no-verify"])
    assert code == 0 and "25" in capsys.readouterr().out


def test_cli_rejects_layers_that_do_not_fit_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _letters(tmp_path / "letters")
    code = main(["train", "--data-dir", str(folder), "--no-verify", "--layers", "784,64,10"])
    err = capsys.readouterr().err
    assert code == 2 and "1024 inputs and 26 outputs" in err


def test_cli_checksum_error_names_no_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _letters(tmp_path / "letters")
    assert main(["train", "--data-dir", str(folder), "--epochs", "1"]) != 0
    assert "--no-verify" in capsys.readouterr().err


@pytest.fixture
def fashion_dir() -> Path:
    folder = os.environ.get(FASHION_ENV_VAR)
    if not folder:
        pytest.skip(f"{FASHION_ENV_VAR} is not set (real Fashion-MNIST files; .ci/run sets it)")
    return Path(folder)


def test_real_fashion_mnist_is_verified(fashion_dir: Path) -> None:
    data = load_dataset("fashion-mnist", fashion_dir, download=False)
    assert data.train_images.shape == (60000, 28, 28) and data.test_labels.shape == (10000,)
    assert data.n_classes == 10 and data.class_names[0] == "T-shirt/top"


def test_cli_evaluate_shows_fashion_class_names(
    fashion_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--dataset", "fashion-mnist", "--data-dir", str(fashion_dir), "--no-download"]
    model = tmp_path / "f.npz"
    argv = ["train", *common, "--epochs", "1", "--train-size", "2000", "--save", str(model)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model), *common]) == 0
    out = capsys.readouterr().out
    assert "Ankle boot" in out and "T-shirt/top" in out
