"""Whole runs in a fresh interpreter, with every warning an error.

The test session itself hides two kinds of bug: modules that other tests imported (a
submodule reached as an attribute works here, and fails in a user's process that never
imported it), and settings the session makes (``conftest.py`` turns on JAX's 64-bit mode,
without which asking JAX for int64 warns).  So these runs start Python anew, as a user
does, on a small synthetic IDX folder: training with shifts, elastic distortions, dropout
and early stopping, then evaluation (with figures) and prediction; and features with
standardisation from Python.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CUPY, GPU_DRY_RUN, REQUIRE_GPU  # the one GPU probe, run once

from anyarray_nn.data import write_idx

#: (backend, device, the library it needs)
BACKENDS = [
    ("numpy", None, "numpy"),
    ("array_api_strict", None, "array_api_strict"),
    ("torch", "cpu", "torch"),
    ("jax", "cpu", "jax"),
]


def _cupy_case() -> object:
    """CuPy where usable (marked ``gpu``: the GPU script runs it); on its dry run,
    array_api_strict's ``device1`` stands in; else skipped with the probe's reason."""
    if GPU_DRY_RUN:
        return pytest.param("array_api_strict", "device1", "array_api_strict", id="cupy",
                            marks=pytest.mark.gpu)  # fmt: skip
    marks = [pytest.mark.gpu]
    if not (CUPY.usable or REQUIRE_GPU):
        marks.append(pytest.mark.skip(reason=f"no usable CuPy GPU: {CUPY.reason}"))
    return pytest.param("cupy", None, "cupy", id="cupy", marks=marks)


FEATURES_SCRIPT = """
import sys
import numpy as np
from anyarray_nn import Network
from anyarray_nn.training import train
backend, device = sys.argv[1], None if sys.argv[2] == "None" else sys.argv[2]
rng = np.random.default_rng(0)
X = rng.standard_normal((200, 5)) * 100.0 + 7.0
y = (X[:, 0] > 7.0).astype(np.int64)
net = Network([5, 8, 2], backend=backend, device=device, seed=0)
history = train(net, X, y, epochs=10, batch_size=32, learning_rate=0.02, standardize=True,
                progress=False, validation=(X[:40], y[:40]), patience=3)
print("accuracy", history.records[-1].train_accuracy)
"""


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("t10k", 100)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c : 2 * c + 6, 6:22] = 255  # a bar whose height says the class
        write_idx(folder / f"{split}-images-idx3-ubyte", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels)
    return folder


def _python(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-W", "error", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.mark.parametrize(
    ("backend", "device", "library"),
    [*(pytest.param(*b, id=b[0]) for b in BACKENDS), _cupy_case()],
)
def test_cli_run_in_a_fresh_interpreter(
    backend: str, device: str | None, library: str, idx_folder: Path, tmp_path: Path
) -> None:
    pytest.importorskip(library)
    where = ["--backend", backend] + (["--device", device] if device else [])
    model = tmp_path / "m.npz"
    train = ["-m", "anyarray_nn", "train", "--data-dir", str(idx_folder), "--no-verify", *where]
    train += ["--epochs", "2", "--augment", "1", "--distortions", "light", "--dropout", "0.1"]
    train += ["--validation-size", "100", "--patience", "2", "-q", "--save", str(model)]
    run = _python(*train, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "test accuracy" in run.stdout and run.stderr == ""
    evaluate = ["-m", "anyarray_nn", "evaluate", str(model), "--data-dir", str(idx_folder)]
    evaluate += ["--no-verify", *where, "-q"]
    if importlib.util.find_spec("matplotlib") is not None:
        evaluate += ["--plot", str(tmp_path / "plots")]
    run = _python(*evaluate, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr == ""
    if importlib.util.find_spec("PIL") is not None:
        from PIL import Image

        Image.fromarray(np.full((40, 30), 255, np.uint8)).save(tmp_path / "blank.png")
        run = _python("-m", "anyarray_nn", "predict", str(model), "blank.png", *where, cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.startswith("blank.png: ") and run.stderr == ""


@pytest.mark.parametrize(("backend", "device", "library"), BACKENDS, ids=[b[0] for b in BACKENDS])
def test_features_in_a_fresh_interpreter(
    backend: str, device: str | None, library: str, tmp_path: Path
) -> None:
    pytest.importorskip(library)
    run = _python("-c", FEATURES_SCRIPT, backend, str(device), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert float(run.stdout.split()[-1]) > 0.8
