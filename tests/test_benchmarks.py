"""The benchmark scripts' logic on tiny data (no timing is asserted, ever)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

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
    assert args.impl == ["anyarray_nn", "reference", "torch"] and args.epochs == 5
    with pytest.raises(SystemExit):
        train_speed.build_parser().parse_args(["--impl", "jax"])


def test_synthetic_data_fallback_says_so() -> None:
    images, labels, _, source = bench_common.load_train_data(None)
    assert images.shape == (60_000, 784) and images.dtype == np.uint8
    assert labels.shape == (60_000,) and "SYNTHETIC" in source


def test_blas_summary_and_versions() -> None:
    info = bench_common.blas_info()
    assert set(bench_common.BLAS_ENV) <= set(info["env"])
    assert bench_common.blas_summary(info).startswith("BLAS:")
    assert bench_common.versions()["numpy"] == np.__version__
