"""Every script in ``examples/`` runs (on a tiny budget) so that none of them rots."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
QUICK = ["--backend", "numpy", "--epochs", "1", "--train-size", "500"]


def _main(name: str):  # type: ignore[no-untyped-def]
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"]


def test_every_example_is_tested() -> None:
    names = {p.name for p in EXAMPLES.glob("*.py")}
    assert names == {
        "train_mnist.py",
        "paper_experiment.py",
        "gpu_resident_data.py",
        "save_load_across_backends.py",
        "sklearn_pipeline.py",
        "fashion_mnist.py",
    }
    for name in names:
        text = (EXAMPLES / name).read_text()
        assert f"python examples/{name}" in text and "--backend" in text


@pytest.mark.mnist
@pytest.mark.parametrize("name", ["train_mnist.py", "gpu_resident_data.py"])
def test_training_examples(name: str, mnist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    accuracy = _main(name)([*QUICK, "--data-dir", str(mnist_dir)])
    assert 0.3 < accuracy <= 1.0
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.mnist
def test_gpu_resident_example_streams(mnist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _main("gpu_resident_data.py")(
        [*QUICK, "--data-dir", str(mnist_dir), "--memory-budget", "80000"]
    )
    assert "streamed" in capsys.readouterr().out


@pytest.mark.mnist
def test_paper_example(mnist_dir: Path) -> None:
    rows = _main("paper_experiment.py")([*QUICK, "--data-dir", str(mnist_dir)])
    assert len(rows) == 6


@pytest.mark.mnist
def test_save_load_example(mnist_dir: Path) -> None:
    argv = [*QUICK, "--data-dir", str(mnist_dir), "--load-backend", "array_api_strict"]
    assert _main("save_load_across_backends.py")(argv) is True


def test_sklearn_pipeline_example(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn", reason="the example needs scikit-learn (extra: sklearn)")
    accuracy = _main("sklearn_pipeline.py")(["--backend", "numpy", "--epochs", "3", "--folds", "2"])
    assert 0.3 < accuracy <= 1.0
    assert "best parameters" in capsys.readouterr().out


def test_fashion_mnist_example(capsys: pytest.CaptureFixture[str]) -> None:
    folder = os.environ.get("ANYARRAY_NN_FASHION_DATA")
    if not folder:
        pytest.skip("ANYARRAY_NN_FASHION_DATA is not set (real Fashion-MNIST; .ci/run sets it)")
    accuracy = _main("fashion_mnist.py")([*QUICK, "--data-dir", folder])
    assert 0.3 < accuracy <= 1.0
    assert "Ankle boot" in capsys.readouterr().out
