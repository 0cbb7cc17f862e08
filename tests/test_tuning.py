"""Hyper-parameter search: search space, samplers, failures, and workers sharing a study.

The in-process tests use a small synthetic data set; the command-line and multi-worker tests
use 1000 real MNIST images (``ANYARRAY_NN_DATA``) and run workers as subprocesses.  The
PostgreSQL test runs when ``ANYARRAY_NN_TEST_POSTGRES_URL`` names a server (``.ci/run``
starts one).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from anyarray_nn.cli import main as cli_main  # noqa: E402
from anyarray_nn.experiments import DataSplits  # noqa: E402
from anyarray_nn.tuning import (  # noqa: E402
    Choice,
    FloatRange,
    SearchSpace,
    TuningError,
    count_trials,
    make_sampler,
    open_storage,
    tune,
)

POSTGRES_URL = os.environ.get("ANYARRAY_NN_TEST_POSTGRES_URL")
ROOT = Path(__file__).resolve().parents[1]


def synthetic(n_train: int = 600, n_val: int = 200, n_test: int = 200, seed: int = 0) -> DataSplits:
    """Ten noisy prototypes of 64 'pixels' (uint8), a task a small network learns quickly."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, (10, 64))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n)
        x = np.clip(prototypes[y] + rng.normal(0, 40, (n, 64)), 0, 255).astype(np.uint8)
        return x, y.astype(np.int64)

    (tx, ty), (vx, vy), (sx, sy) = draw(n_train), draw(n_val), draw(n_test)
    return DataSplits(tx, ty, sx, sy, vx, vy)


def load(storage: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(storage, heartbeat=False))


# --- search space ---------------------------------------------------------------------------


def test_search_space_overrides() -> None:
    space = SearchSpace.from_overrides(
        ["hidden_units=64", "learning_rate=0.01:0.3", "activation=relu,tanh"]
    )
    assert space.specs["hidden_units"] == Choice((64,))
    assert space.specs["learning_rate"] == FloatRange(0.01, 0.3, log=True)
    assert space.specs["activation"] == Choice(("relu", "tanh"))
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        SearchSpace.from_overrides(["depth=3"])
    with pytest.raises(ValueError, match="low < high"):
        SearchSpace.from_overrides(["learning_rate=0.3:0.01"])
    with pytest.raises(ValueError, match="activation"):
        SearchSpace.from_overrides(["activation=swish"])
    with pytest.raises(ValueError, match="NAME=V"):
        SearchSpace.from_overrides(["learning_rate"])


# --- in-process studies ---------------------------------------------------------------------


def test_gp_study_improves_on_a_poor_start(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("scipy")
    sampler, line = make_sampler("gp", seed=0)
    assert type(sampler.inner).__name__ == "GPSampler" and "GPSampler" in line
    poor = {
        "learning_rate": 1e-3,
        "weight_decay": 1e-6,
        "hidden_layers": 1,
        "hidden_units": 32,
        "batch_size": 256,
        "momentum": 0.5,
        "activation": "sigmoid",
    }
    lines: list[str] = []
    storage = str(tmp_path / "study.journal")
    result = tune(
        synthetic(n_train=1000),
        n_trials=7,
        epochs=3,
        sampler="gp",
        storage=storage,
        enqueue=[poor],
        log=lines.append,
    )
    assert lines[0].startswith("sampler: GPSampler")
    study = load(storage, "anyarray-nn")
    first = study.trials[0]
    assert first.params["learning_rate"] == pytest.approx(1e-3)
    assert first.state.name == "COMPLETE"
    assert result.best_validation_accuracy > first.value + 0.2
    assert result.best_trial != 0
    assert result.counts.finished == 7
    # Pruned trials are shown to the GP, so it does not propose them again.
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == len(params)
    assert result.test_accuracy is not None and result.test_accuracy > 0.5


def test_gp_falls_back_to_tpe(monkeypatch: pytest.MonkeyPatch) -> None:
    import anyarray_nn.tuning.samplers as tuning_samplers

    monkeypatch.setattr(tuning_samplers, "gp_available", lambda: "torch not installed")
    sampler, line = make_sampler("gp")
    assert type(sampler.inner).__name__ == "TPESampler"
    assert "falling back to TPE" in line and "torch" in line


def test_failed_trial_is_recorded_and_the_study_continues(tmp_path: Path) -> None:
    storage = str(tmp_path / "study.journal")
    space = SearchSpace().with_overrides(
        {"learning_rate": "0.01:10000", "activation": "relu", "hidden_layers": "1"}
    )
    result = tune(
        synthetic(),
        n_trials=3,
        epochs=2,
        space=space,
        sampler="random",
        storage=storage,
        enqueue=[{"learning_rate": 10000.0}, {"learning_rate": 0.05}],
        retrain=False,
        log=None,
    )
    study = load(storage, "anyarray-nn")
    first = study.trials[0]
    assert first.state.name == "FAIL"
    assert "diverged" in first.user_attrs["fail_reason"]
    assert study.trials[1].state.name == "COMPLETE"
    assert result.counts.failed >= 1
    assert result.counts.finished == 3 and len(study.trials) == 3
    assert result.test_accuracy is None


def test_no_completed_trial_is_an_error(tmp_path: Path) -> None:
    space = SearchSpace().with_overrides({"learning_rate": "10000", "activation": "relu"})
    with pytest.raises(TuningError, match="no trial"):
        tune(
            synthetic(),
            n_trials=2,
            epochs=1,
            space=space,
            sampler="random",
            storage=str(tmp_path / "s.journal"),
            log=None,
        )


def test_resume_in_process_counts_the_whole_study(tmp_path: Path) -> None:
    storage = str(tmp_path / "study.db")  # SQLite file
    kwargs = {"epochs": 1, "sampler": "random", "storage": storage, "retrain": False}
    first = tune(synthetic(), n_trials=2, log=None, **kwargs)
    assert first.counts.finished == 2
    second = tune(synthetic(), n_trials=4, log=None, **kwargs)
    assert second.counts.finished == 4
    assert len(load("sqlite:///" + storage, "anyarray-nn").trials) == 4


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """``anyarray-nn tune ARGV`` through the one command line."""
    return cli_main(["tune", *argv])


def test_cli_json_and_plots(
    mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    code = main(
        [
            "--data-dir", str(mnist_dir), "--train-size", "1000", "--epochs", "1",
            "--n-trials", "3", "--sampler", "random", "--storage",
            str(tmp_path / "s.journal"), "--json", str(out), "--plot", str(tmp_path / "plots"),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "sampler: RandomSampler" in printed
    result = json.loads(out.read_text())
    for key in ("best_params", "best_validation_accuracy", "test_accuracy"):
        assert result[key] is not None
    assert result["n_complete"] + result["n_pruned"] + result["n_failed"] == 3
    assert {"learning_rate", "hidden_units", "activation"} <= set(result["best_params"])
    assert (tmp_path / "plots" / "optimization_history.png").stat().st_size > 0


def test_cli_errors_are_one_line(
    mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--param", "depth=3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown hyper-parameter" in err
    assert err.startswith("anyarray-nn: error: ")  # the one policy of every command
    common = ["--data-dir", str(mnist_dir), "--train-size", "100"]
    assert main([*common, "--validation-size", "500"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "validation_size" in err
    url = "postgresql+psycopg2://nobody:secret@127.0.0.1:1/none"
    assert main([*common, "--storage", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open storage" in err and "secret" not in err
    with pytest.raises(TuningError, match="folder"):
        open_storage(tmp_path)


# --- several worker processes ---------------------------------------------------------------


def worker_command(mnist_dir: Path, storage: str, name: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "anyarray_nn", "tune", "--data-dir", str(mnist_dir),
        "--train-size", "1000", "--storage", storage, "--study-name", name,
        "--sampler", "random", "--no-retrain", *extra,
    ]  # fmt: skip


def worker_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def run_two_workers(mnist_dir: Path, storage: str, name: str, n_trials: int) -> None:
    command = worker_command(
        mnist_dir, storage, name, "--n-trials", str(n_trials), "--epochs", "3", "--no-pruning"
    )
    workers = [
        subprocess.Popen(
            command, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = load(storage, name)
    counts = count_trials(study)
    assert counts.finished == n_trials, outputs  # none lost, none extra
    assert counts.running == 0 and counts.waiting == 0 and counts.interrupted == 0
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    counted = [t for t in study.trials if not t.user_attrs.get("surplus")]
    assert len(counted) == n_trials
    assert {t.user_attrs["worker"]["pid"] for t in counted} == {w.pid for w in workers}, outputs
    params = [tuple(sorted(t.params.items())) for t in counted]
    assert len(set(params)) == n_trials  # the workers do not repeat each other


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_two_workers_share_one_study(mnist_dir: Path, tmp_path: Path, kind: str) -> None:
    storage = str(tmp_path / ("study.journal" if kind == "journal" else "study.db"))
    run_two_workers(mnist_dir, storage, "shared", n_trials=8)


@pytest.mark.skipif(not POSTGRES_URL, reason="ANYARRAY_NN_TEST_POSTGRES_URL not set")
def test_two_workers_share_one_study_on_postgresql(mnist_dir: Path) -> None:
    assert POSTGRES_URL is not None
    name = f"test-{uuid.uuid4().hex[:12]}"
    try:
        run_two_workers(mnist_dir, POSTGRES_URL, name, n_trials=8)
    finally:
        optuna.delete_study(study_name=name, storage=open_storage(POSTGRES_URL, heartbeat=False))


def test_killed_worker_is_resumed(mnist_dir: Path, tmp_path: Path) -> None:
    storage = str(tmp_path / "study.journal")
    command = worker_command(
        mnist_dir, storage, "crash", "--n-trials", "3", "--epochs", "100", "--no-pruning",
        "--param", "batch_size=16", "--param", "hidden_layers=1", "--param", "hidden_units=32",
    )  # fmt: skip
    worker = subprocess.Popen(command, env=worker_env(), stdout=subprocess.PIPE, text=True)
    victim = None
    deadline = time.monotonic() + 90
    try:
        while victim is None and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
            if not (tmp_path / "study.journal").exists():
                continue
            try:
                trials = load(storage, "crash").trials
            except KeyError:
                continue  # the study is not created yet
            running = [t for t in trials if t.state.name == "RUNNING" and t.intermediate_values]
            if running and any(t.state.name == "COMPLETE" for t in trials):
                victim = running[0].number
                os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate()
    assert victim is not None, "the worker finished before it could be killed"

    study = load(storage, "crash")
    assert study.trials[victim].state.name == "RUNNING"  # not counted as complete
    assert count_trials(study).complete < 3

    resumed = subprocess.run(command, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    study = load(storage, "crash")
    counts = count_trials(study)
    assert counts.finished == 3 and counts.interrupted == 1 and counts.running == 0
    interrupted = study.trials[victim]
    assert interrupted.state.name == "FAIL" and interrupted.user_attrs["interrupted"]
    assert "interrupted" in interrupted.user_attrs["fail_reason"]
