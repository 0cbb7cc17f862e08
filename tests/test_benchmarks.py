"""The benchmark scripts' logic on tiny data (no timing is asserted, ever)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import backend_rows  # noqa: E402
import bench_common  # noqa: E402
import train_speed  # noqa: E402
from reference_mlp import ReferenceMLP  # noqa: E402

from anyarray_nn import SGD, Network  # noqa: E402


def test_flops_per_sample_is_3196_h() -> None:
    for h in (64, 800):
        assert bench_common.flops_per_sample([784, h, 10]) == 3196 * h
    # two hidden layers: every layer but the first also sends an error down
    assert bench_common.flops_per_sample([4, 3, 2]) == 6 * (12 + 6) - 2 * 12


@pytest.mark.parametrize("bad", ["784", "784-x-10", "784-0-10", ""])
def test_parse_layers_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="784-64-10"):
        bench_common.parse_layers(bad)


def test_case_grid() -> None:
    assert bench_common.case_grid(quick=True) == [("784-64-10", 128, "float32")]
    grid = bench_common.case_grid()
    assert len(grid) == 8 and ("784-800-10", 1024, "float64") in grid


def test_reference_mlp_takes_the_same_step_as_the_network() -> None:
    net = Network([12, 7, 4], dtype="float64", seed=0)
    ref = ReferenceMLP(*net.get_weights(), learning_rate=0.3)
    rng = np.random.default_rng(0)
    opt = SGD(0.3)
    for _ in range(3):
        X = rng.random((9, 12))
        y = rng.integers(0, 4, 9)
        loss = ref.train_step(X, y)
        grads = net.train_step(X, y, opt)
        assert float(loss) == pytest.approx(float(grads.cost), rel=1e-12)
    W, b = net.get_weights()
    for got, want in zip(ref.weights + ref.biases, W + b, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def _tiny_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (200, 784), dtype=np.uint8), rng.integers(0, 10, 200)


def test_run_cases_table_and_json(tmp_path: Path) -> None:
    images, labels = _tiny_data()
    results = train_speed.run_cases(
        [("784-16-10", 64, "float32")],
        images,
        labels,
        ["anyarray_nn", "reference"],
        epochs=5,
        peaks={"float32": 100.0},
        torch_threads=1,
        log=lambda _: None,
    )
    assert [r.impl for r in results] == ["anyarray_nn", "reference"]
    for r in results:
        assert len(r.epoch_seconds) == 5 and r.seconds_per_epoch > 0
        assert r.gflops == pytest.approx(3196 * 16 * 200 / r.seconds_per_epoch / 1e9)
        assert r.fraction_of_peak == pytest.approx(r.gflops / 100.0)
    # same weights, same batches: the two implementations trained the same network
    assert "after training" in results[1].note
    assert float(results[1].note.rsplit(" ", 1)[-1]) < 1e-4
    table = bench_common.format_table(results, "anyarray_nn", ["reference", "torch"])
    lines = table.splitlines()
    assert lines[0].startswith("| layers | batch | dtype | impl | s/epoch")
    assert "anyarray_nn/reference" in lines[0] and len(lines) == 4
    ratio = results[0].seconds_per_epoch / results[1].seconds_per_epoch
    assert f"| {ratio:.2f} |" in lines[2]
    path = bench_common.write_json(tmp_path / "out" / "r.json", results, suite="cpu")
    data = json.loads(path.read_text())
    assert data["suite"] == "cpu"
    for key in ("impl", "layers", "batch_size", "dtype", "seconds_per_epoch"):
        assert key in data["cases"][0]
    assert data["cases"][0]["layers"] == "784-16-10" and data["cases"][0]["batch_size"] == 64


def test_torch_runner_trains_the_same_network() -> None:
    pytest.importorskip("torch")
    images, labels = _tiny_data()
    X = train_speed.float_data(images, "float64")
    net = Network([784, 8, 10], dtype="float64", seed=0)
    W0, b0 = net.get_weights()
    ref = train_speed.ReferenceRunner(W0, b0, X, labels, 32, 0.05)
    torch_runner = train_speed.TorchRunner(W0, b0, X, labels, 32, 0.05)
    perm = np.random.default_rng(1).permutation(200)
    ref.epoch(perm)
    torch_runner.epoch(perm)
    assert train_speed.max_weight_difference(ref.weights(), torch_runner.weights()) < 1e-10


def test_parser_and_quick_grid() -> None:
    args = train_speed.build_parser().parse_args(["--quick", "--json", "x.json", "--no-e2e"])
    assert args.quick and args.no_e2e and args.json == Path("x.json")
    assert args.impl == ["anyarray_nn", "reference", "torch", *backend_rows.BACKEND_IMPLS]
    assert args.epochs == 5
    with pytest.raises(SystemExit):
        train_speed.build_parser().parse_args(["--impl", "jax"])


@pytest.mark.parametrize("impl", list(backend_rows.BACKEND_IMPLS))
def test_backend_rows_train_the_same_network(impl: str) -> None:
    """The torch/JAX rows (library and hand-written JAX) take the reference's steps."""
    pytest.importorskip(backend_rows.BACKEND_IMPLS[impl])
    images, labels = _tiny_data()
    X = train_speed.float_data(images, "float64")
    net = Network([784, 8, 10], dtype="float64", seed=0)
    W0, b0 = net.get_weights()
    ref = train_speed.ReferenceRunner(W0, b0, X, labels, 32, 0.05)
    (runner,) = backend_rows.make_runners([impl], [784, 8, 10], "float64", W0, b0, X, labels,
                                         32, 0.05)  # fmt: skip
    perm = np.random.default_rng(1).permutation(200)
    ref.epoch(perm)
    assert runner.timer(lambda: runner.epoch(perm)) > 0
    assert train_speed.max_weight_difference(ref.weights(), runner.weights()) < 1e-10
    lines = backend_rows.backend_ratios([])
    assert lines == []


def test_synthetic_data_fallback_says_so() -> None:
    images, labels, _, source = bench_common.load_train_data(None)
    assert images.shape == (60_000, 784) and images.dtype == np.uint8
    assert labels.shape == (60_000,) and "SYNTHETIC" in source


def test_blas_summary_and_versions() -> None:
    info = bench_common.blas_info()
    assert set(bench_common.BLAS_ENV) <= set(info["env"])
    assert bench_common.blas_summary(info).startswith("BLAS:")
    assert bench_common.versions()["numpy"] == np.__version__


# --- the GPU suite's host-side parts (no GPU needed) ----------------------------------------

import subprocess  # noqa: E402

import gpu_speed  # noqa: E402


def test_gpu_slug() -> None:
    assert gpu_speed.gpu_slug("NVIDIA H200") == "nvidia-h200"
    assert gpu_speed.gpu_slug("NVIDIA GeForce RTX 4090 (24GB)") == "nvidia-geforce-rtx-4090-24gb"
    assert gpu_speed.gpu_slug("  ") == "unknown-gpu"


def test_gpu_children_get_their_tf32_mode(tmp_path: Path) -> None:
    args = gpu_speed.build_parser().parse_args(
        ["--epochs", "7", "--batch-sizes", "128", "8192", "--data-dir", "/d", "--no-torch"]
    )
    passthrough = gpu_speed.passthrough_args(args)
    assert passthrough == [
        "--epochs", "7", "--no-torch", "--data-dir", "/d", "--batch-sizes", "128", "8192"
    ]  # fmt: skip
    for tf32, flag in ((False, "0"), (True, "1")):
        cmd, env = gpu_speed.child_command("g.py", tf32, tmp_path / "o.json", passthrough)
        assert env["CUPY_TF32"] == flag
        assert cmd[2:5] == ["--child", "--tf32", "on" if tf32 else "off"]
        assert gpu_speed.build_parser().parse_args(cmd[2:]).batch_sizes == [128, 8192]
    assert gpu_speed.gpu_cases(args) == [
        ("784-64-10", 128, "float32"),
        ("784-64-10", 8192, "float32"),
        ("784-800-10", 128, "float32"),
        ("784-800-10", 8192, "float32"),
    ]
    full = gpu_speed.gpu_cases(gpu_speed.build_parser().parse_args([]))
    assert len(full) == 6 and {b for _, b, _ in full} == {128, 1024, 8192}


def test_gpu_markdown_report_and_json(tmp_path: Path) -> None:
    cases = []
    for tf32 in (False, True):
        for impl, s in (("anyarray_nn_cupy", 0.05), ("torch_cuda", 0.1)):
            r = bench_common.CaseResult(impl, "784-64-10", 128, "float32", s, tf32=tf32)
            cases.append(bench_common.derive(r, 60_000, 50_000.0).to_dict())
    payload = {
        "cases": cases,
        "gpu": {"name": "NVIDIA H200", "total_memory_gib": 139.8, "driver": "580.1"},
        "versions": {"cupy": "14.2.0", "torch": "2.11.0"},
        "matmul_peak_gflops": {"tf32 off": 50_000.0, "tf32 on": 300_000.0},
        "epochs": 5,
        "learning_rate": 0.05,
        "time_to_accuracy": {
            "target": 0.98,
            "setup": "784-800-10",
            "seconds": 12.0,
            "load_seconds": 1.0,
            "train_seconds": 10.0,
            "epochs": 6,
            "accuracy": 0.981,
        },
        "e2e": {"skipped": "CLI not available"},
    }
    md = gpu_speed.markdown_report(payload)
    assert md.startswith("# Training speed on NVIDIA H200")
    assert "| 784-64-10 | 128 | float32+tf32 | anyarray_nn_cupy |" in md
    assert "| 0.50 |" in md and "cupy 14.2.0" in md and "**12.0 s**" in md
    assert "CLI not available" in md
    results = gpu_speed._as_results(cases)
    path = bench_common.write_json(tmp_path / "nvidia-h200.json", results, suite="gpu")
    data = json.loads(path.read_text())
    assert {c["impl"] for c in data["cases"]} == {"anyarray_nn_cupy", "torch_cuda"}
    assert [c["tf32"] for c in data["cases"]] == [False, False, True, True]


def test_gpu_suite_without_gpu_says_so() -> None:
    ok, why = gpu_speed.gpu_available()
    if ok:
        pytest.skip("a GPU is usable here")
    assert why
    assert gpu_speed.main(["--no-e2e"]) == 2


def test_gpu_check_script_is_valid_bash() -> None:
    script = BENCH / "run_gpu_checks.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "pip download --no-deps" in text and 'carry=[".whl", ".mnist"]' in text
    assert "timeout_s=420" in text  # 340 s of budgets: room for a rerun in 15 device-minutes
    for name in ("array-api-compat", "array-api-strict"):  # the carried wheels are pinned
        assert re.search(rf"{name}==\d+\.\d+\.\d+", text), name
    assert "-m gpu" in text and "ANYARRAY_NN_REQUIRE_GPU=1" in text and "timeout -s INT" in text


def test_gpu_suite_dry_run_on_the_cpu(tmp_path: Path) -> None:
    """The parent / child / merge / write flow of gpu_speed.py, with NumPy standing in."""
    flags = ["--dry-run", "--limit", "300", "--quick", "--no-torch", "--no-accuracy", "--no-e2e"]
    code = gpu_speed.main([*flags, "--out-dir", str(tmp_path)])
    assert code == 0
    data = json.loads((tmp_path / "dry-run-on-numpy.json").read_text())
    assert [(c["layers"], c["batch_size"], c["tf32"]) for c in data["cases"]] == [
        ("784-64-10", 128, False),
        ("784-800-10", 8192, False),
        ("784-64-10", 128, True),
        ("784-800-10", 8192, True),
    ]
    assert set(data["matmul_peak_gflops"]) == {"tf32 off", "tf32 on"}
    assert "| float32+tf32 |" in (tmp_path / "dry-run-on-numpy.md").read_text()


def test_gpu_report_says_when_the_target_was_not_reached() -> None:
    tta = {
        "target": 0.98,
        "setup": "784-800-10",
        "seconds": 40.0,
        "load_seconds": 1.0,
        "train_seconds": 39.0,
        "epochs": 30,
        "accuracy": 0.975,
        "accuracy_per_epoch": [0.95, 0.977, 0.975],
        "reached": False,
        "error": "98% not reached in 30 epochs",
    }
    line = gpu_speed.accuracy_line(tta)
    assert "NOT reached" in line and "30 epochs" in line and "97.70%" in line
    assert "**40.0 s**" not in line
    assert "not measured" in gpu_speed.accuracy_line({"error": "timed out after 60 s"})
    failed = {"command": "anyarray-nn train --backend cupy", "seconds": 3.0, "returncode": 1}
    assert "FAILED" in gpu_speed.e2e_line(failed)
    assert "FAILED" not in gpu_speed.e2e_line({**failed, "returncode": 0})
    md = gpu_speed.markdown_report(
        {"cases": [], "time_to_accuracy": tta, "e2e": failed, "errors": ["a", "b"]}
    )
    assert "NOT reached" in md and "**2 error(s)**" in md


def test_gpu_children_stream_and_stop_with_sigint(capsys: pytest.CaptureFixture[str]) -> None:
    code = (
        "import time\n"
        "print('first line', flush=True)\n"
        "try:\n    time.sleep(30)\n"
        "except KeyboardInterrupt:\n    print('saved on SIGINT', flush=True); raise SystemExit(3)\n"
    )
    run = gpu_speed.stream_child([sys.executable, "-c", code], dict(os.environ), timeout=2.0)
    assert run["timed_out"] and run["returncode"] == 3 and run["seconds"] < 12
    assert run["output_tail"] == ["first line", "saved on SIGINT"]
    assert "first line" in capsys.readouterr().out  # echoed as it came


def test_gpu_budget_skips_children_that_would_not_fit() -> None:
    assert gpu_speed.Budget(None, 70.0).child_timeout() == 70.0
    assert gpu_speed.Budget(300.0, 70.0).child_timeout() == 70.0
    assert gpu_speed.Budget(45.0, 70.0).child_timeout() <= 45.0
    assert gpu_speed.Budget(5.0, 70.0).child_timeout() is None


def test_loop_speed_runs_on_tiny_data(capsys: pytest.CaptureFixture[str]) -> None:
    import loop_speed

    result = loop_speed.main(["--synthetic", "--n", "300", "--epochs", "2", "--backends",
                              "numpy", "array_api_strict"])  # fmt: skip
    assert set(result["rows"]) == {"numpy", "array_api_strict"}
    assert all(len(cells) == 2 and min(cells) > 0 for cells in result["rows"].values())
    out = capsys.readouterr().out
    assert "| numpy | " in out and "| 1.00 |" in out
