"""``--backend torch|jax``, ``--device`` and ``--threads`` on every command that computes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn import libraries
from anyarray_nn.cli import main
from anyarray_nn.libraries import DEFAULT_THREADS, limit_threads

COMPUTING = ("train", "evaluate", "predict", "paper", "tune")


def _options(command: str) -> dict[str, object]:
    import argparse

    from anyarray_nn.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices[command]._actions}


@pytest.mark.parametrize("command", COMPUTING)
def test_every_computing_command_has_backend_device_threads(command: str) -> None:
    options = _options(command)
    assert {"backend", "device", "threads"} <= set(options)
    assert options["threads"].default == DEFAULT_THREADS  # type: ignore[attr-defined]


def test_unusable_device_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    code = main(["train", "--backend", "torch", "--device", "cuda", "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "no usable CUDA GPU" in err[0]


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_train_save_evaluate_on_torch_and_jax(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], mnist_dir: Path
) -> None:
    pytest.importorskip(backend)
    model = tmp_path / "m.npz"
    common = ["--backend", backend, "--device", "cpu", "--data-dir", str(mnist_dir)]
    argv = ["train", *common, "--train-size", "1000", "--epochs", "1", "--save", str(model)]
    assert main([*argv, "-q"]) == 0
    assert main(["evaluate", str(model), *common, "-q"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out


def test_limit_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*libraries._THREAD_VARIABLES, "XLA_FLAGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(libraries, "_LIMITS", [])
    limit_threads(0)
    assert "OMP_NUM_THREADS" not in os.environ
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        limit_threads(1, "torch")
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and torch.get_num_threads() == 1
        if "threadpoolctl" in sys.modules:
            from threadpoolctl import threadpool_info

            assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    finally:
        torch.set_num_threads(before)
        for limits in libraries._LIMITS:
            limits.restore_original_limits()
    # JAX is already running in this process: its flags are left alone.
    assert "XLA_FLAGS" not in os.environ or "jax" not in sys.modules
    np.testing.assert_equal(DEFAULT_THREADS, 1)
