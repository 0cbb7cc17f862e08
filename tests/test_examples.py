"""Every script in ``examples/`` runs (on a tiny budget) so that none of them rots."""

from __future__ import annotations

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
