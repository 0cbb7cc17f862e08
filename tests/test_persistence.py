"""Saving and loading networks and checkpoints: round trips, across backends, atomic
writes, no pickle, and every kind of broken file giving :class:`ModelFileError`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anyarray_nn import Adam, Momentum, Network, to_numpy
from anyarray_nn.backend import Backend, from_numpy, resolve_backend
from anyarray_nn.persistence import (
    FORMAT_VERSION,
    ModelFileError,
    load_checkpoint,
    load_network,
    read_metadata,
    save_checkpoint,
    save_network,
)

SIZES = [6, 5, 4]


def _data(seed: int = 0, m: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((m, SIZES[0])), rng.integers(0, SIZES[-1], m)


def _trained(backend: Backend | str = "numpy", dtype: str = "float32", **kwargs: Any) -> Network:
    """A small network moved away from its initial weights by a few Adam steps."""
    net = Network(SIZES, activation="tanh", dtype=dtype, backend=backend, seed=3, **kwargs)
    X, y = _data()
    Xd, yd = net.asarray(X), from_numpy(y, net.backend)
    opt = Adam(0.05)
    for _ in range(3):
        net.train_step(Xd, yd, opt)
    return net


def _outputs(net: Network) -> np.ndarray:
    return to_numpy(net.predict_proba(net.asarray(_data(1)[0])))


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _rewrite(path: Path, arrays: dict[str, Any] | None = None, **meta_changes: Any) -> Path:
    """Re-save a valid file with some arrays or metadata entries replaced (None: removed)."""
    with np.load(path, allow_pickle=False) as data:
        content = {k: data[k] for k in data.files}
    metadata = json.loads(str(content.pop("metadata")))
    for key, value in meta_changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    for key, value in (arrays or {}).items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    content.setdefault("metadata", np.array(json.dumps(metadata)))
    out = path.with_name("broken.npz")
    np.savez(out, **content)
    return out


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return save_network(_trained(), tmp_path / "model.npz")


# --------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_same_predictions(backend: Backend, tmp_path: Path, dtype: str) -> None:
    net = _trained(backend, dtype)
    path = save_network(net, tmp_path / "model.npz", training={"epochs": 3, "note": "é"})
    assert path == tmp_path / "model.npz"
    loaded = load_network(path, backend)
    assert loaded.config() == net.config()
    assert loaded.backend.name == backend.name and loaded.device == net.device
    assert loaded.weights[0].dtype == net.weights[0].dtype
    np.testing.assert_array_equal(_outputs(loaded), _outputs(net))
    for a, b in zip(loaded.parameters, net.parameters, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    meta = read_metadata(path)
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["training"] == {"epochs": 3, "note": "é"}
    assert meta["network"] == net.config()


@pytest.mark.parametrize(
    ("save_on", "load_on"),
    [
        (("numpy", None), ("array_api_strict", "device1")),
        (("array_api_strict", "device1"), ("numpy", None)),
        (("array_api_strict", None), ("array_api_strict", "device1")),
    ],
    ids=["numpy-to-device1", "device1-to-numpy", "strict-cpu-to-device1"],
)
def test_save_on_one_backend_load_on_another(
    tmp_path: Path, save_on: tuple[str, str | None], load_on: tuple[str, str | None]
) -> None:
    source, target = resolve_backend(*save_on), resolve_backend(*load_on)
    net = _trained(source)
    path = save_network(net, tmp_path / "m.npz")
    loaded = load_network(path, target.name, target.device)
    assert loaded.backend.name == target.name and loaded.device == target.device
    np.testing.assert_allclose(_outputs(loaded), _outputs(net), rtol=1e-6, atol=1e-7)


def test_any_backend_loads_on_numpy(backend: Backend, tmp_path: Path) -> None:
    # covers cupy -> numpy when a GPU is present
    net = _trained(backend)
    loaded = load_network(save_network(net, tmp_path / "m"), "numpy")
    np.testing.assert_allclose(_outputs(loaded), _outputs(net), rtol=1e-6, atol=1e-7)


def test_suffix_and_folders(tmp_path: Path) -> None:
    net = _trained()
    path = save_network(net, tmp_path / "new" / "sub" / "model")
    assert path == tmp_path / "new" / "sub" / "model.npz"
    assert _files(path.parent) == ["model.npz"]
    assert read_metadata(path)["training"] == {}


def test_saved_file_has_normal_permissions(tmp_path: Path) -> None:
    # like any file the user creates (umask applies), not the 0o600 of a temporary file
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    path = save_network(_trained(), tmp_path / "m.npz")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_files_hold_no_pickles(model_file: Path) -> None:
    with np.load(model_file, allow_pickle=False) as data:
        assert set(data.files) == {"W0", "W1", "b0", "b1", "metadata"}
        assert all(data[k].dtype != object for k in data.files)


def test_save_overwrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save_network(_trained(), path)
    other = Network(SIZES, activation="tanh", seed=99)
    save_network(other, path)
    np.testing.assert_array_equal(_outputs(load_network(path)), _outputs(other))
    assert _files(tmp_path) == ["m.npz"]


# --------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    path = save_network(_trained(), tmp_path / "m.npz")
    before = path.read_bytes()

    def failing_savez(file: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 half a zip file")
        raise error

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(type(error)):
        save_network(Network(SIZES, seed=5), path)
    with pytest.raises(type(error)):
        save_checkpoint(tmp_path / "ck.npz", _trained(), Adam(0.1), epoch=1, rng_state={}, state={})
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["m.npz"]


# --------------------------------------------------------------------------------------
# broken files
# --------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such model file"):
        load_network(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_network(tmp_path)  # a folder


@pytest.mark.parametrize("cut", [0, 10, 100, "half", -30, -1])
def test_truncated_file(model_file: Path, cut: int | str) -> None:
    data = model_file.read_bytes()
    n = len(data) // 2 if cut == "half" else int(cut) % len(data)
    model_file.write_bytes(data[:n])
    with pytest.raises(ModelFileError, match=r"model\.npz: not a readable \.npz model file"):
        load_network(model_file)


def test_flipped_bytes_in_payload(model_file: Path) -> None:
    data = bytearray(model_file.read_bytes())
    start = data.index(b"W0.npy") + 200  # inside the first array's bytes
    data[start : start + 8] = bytes(8)
    model_file.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="not a readable"):  # the zip CRC catches it
        load_network(model_file)


def test_not_a_model_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not a readable"):
        load_network(text)
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(ModelFileError, match=r"single \.npy array"):
        load_network(npy)
    plain = tmp_path / "plain.npz"
    np.savez(plain, W0=np.zeros((5, 6), np.float32))
    with pytest.raises(ModelFileError, match="no 'metadata' entry"):
        load_network(plain)


def test_loading_never_unpickles(model_file: Path, tmp_path: Path) -> None:
    # An object array can only be read by unpickling: refused, with a clear error.
    with np.load(model_file, allow_pickle=False) as data:
        content = {k: data[k] for k in data.files}
    content["W0"] = np.array([{"evil": 1}], dtype=object)
    path = tmp_path / "pickled.npz"
    np.savez(path, **content)
    with pytest.raises(ModelFileError, match="allow_pickle"):
        load_network(path)
    content["W0"] = np.zeros((5, 6), np.float32)
    content["metadata"] = np.array([json.loads(str(content["metadata"]))], dtype=object)
    np.savez(path, **content)
    with pytest.raises(ModelFileError, match="allow_pickle"):
        load_network(path)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"W0": np.zeros((6, 5), np.float32)}, r"layer 1: expected W \(5, 6\)"),
        ({"b1": np.zeros((5,), np.float32)}, r"layer 2: expected W \(4, 5\) and b \(4,\)"),
        ({"W1": np.zeros((4, 5, 1), np.float32)}, r"layer 2: expected W \(4, 5\)"),
        ({"b0": None}, "missing array 'b0'"),
        ({"W1": np.zeros((4, 5), np.float64)}, "dtype float64, metadata says float32"),
        ({"W1": np.full((4, 5), np.nan, np.float32)}, "NaN or inf"),
        ({"metadata": np.array(3.0)}, "must be one JSON string"),
        ({"metadata": np.array(["{}", "{}"])}, "must be one JSON string"),
        ({"metadata": np.array("{not json")}, "not valid JSON"),
        ({"metadata": np.array("[1, 2]")}, "must be a JSON object, got list"),
    ],
)
def test_mismatched_arrays_and_metadata(
    model_file: Path, arrays: dict[str, Any], message: str
) -> None:
    broken = _rewrite(model_file, arrays)
    with pytest.raises(ModelFileError, match=message) as info:
        load_network(broken)
    assert "broken.npz" in str(info.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 2}, "unsupported format version 2 "),
        ({"format_version": "1"}, "unsupported format version '1'"),
        ({"format_version": True}, "unsupported format version True"),
        ({"format_version": None}, "unsupported format version None"),
        ({"kind": "something.else"}, "unknown file kind 'something.else'"),
        ({"network": None}, "invalid network metadata .*missing entry 'network'"),
        ({"network": {"sizes": [6, 5, 4]}}, "invalid network metadata"),
        ({"network": "784-64-10"}, "invalid network metadata"),
    ],
)
def test_bad_metadata(model_file: Path, changes: dict[str, Any], message: str) -> None:
    broken = _rewrite(model_file, **changes)
    with pytest.raises(ModelFileError, match=message):
        load_network(broken)


def test_bad_architecture_values(model_file: Path) -> None:
    config = read_metadata(model_file)["network"]
    for key, value in [("activation", "swish"), ("sizes", [6, 0, 4]), ("dtype", "int8")]:
        broken = _rewrite(model_file, network={**config, key: value})
        with pytest.raises(ModelFileError, match="invalid network metadata"):
            load_network(broken)


def test_model_file_error_is_a_value_error() -> None:
    assert issubclass(ModelFileError, ValueError)


# --------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------


def _steps(net: Network, opt: Any, seed: int, n: int = 3) -> None:
    X, y = _data(seed)
    Xd, yd = net.asarray(X), from_numpy(y, net.backend)
    for _ in range(n):
        net.train_step(Xd, yd, opt)


@pytest.mark.parametrize("make_opt", [lambda: Adam(0.05), lambda: Momentum(0.1, momentum=0.8)])
def test_checkpoint_resume_equals_uninterrupted(
    backend: Backend, tmp_path: Path, make_opt: Any
) -> None:
    rng = np.random.default_rng(7)
    rng.random(5)
    net, opt = _trained(backend), make_opt()
    _steps(net, opt, seed=2)
    path = save_checkpoint(
        tmp_path / "ck.npz",
        net,
        opt,
        epoch=4,
        rng_state=rng.bit_generator.state,
        state={"history": [0.5, 0.25], "best_accuracy": 0.9},
    )
    # uninterrupted run
    _steps(net, opt, seed=3)
    # resumed run: fresh objects with different weights and no optimiser state
    net2 = Network(SIZES, activation="tanh", backend=backend, seed=123)
    opt2 = make_opt()
    meta = load_checkpoint(path, net2, opt2)
    assert meta["epoch"] == 4
    assert meta["state"] == {"history": [0.5, 0.25], "best_accuracy": 0.9}
    assert opt2.steps == opt.steps - 3
    rng2 = np.random.default_rng(0)
    rng2.bit_generator.state = meta["rng_state"]
    assert rng2.random() == rng.random()
    for a in [*net2.parameters, *opt2.state_arrays()]:
        assert a.device == net.device
    _steps(net2, opt2, seed=3)
    for a, b in zip(net2.parameters, net.parameters, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    for a, b in zip(opt2.state_arrays(), opt.state_arrays(), strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_checkpoint_across_backends(tmp_path: Path) -> None:
    net, opt = _trained("numpy"), Adam(0.05)
    _steps(net, opt, seed=2)
    path = save_checkpoint(tmp_path / "ck.npz", net, opt, epoch=1, rng_state={}, state={})
    target = resolve_backend("array_api_strict", "device1")
    net2, opt2 = Network(SIZES, activation="tanh", backend=target, seed=0), Adam(0.05)
    load_checkpoint(path, net2, opt2)
    assert all(a.device == target.device for a in opt2.state_arrays())
    np.testing.assert_allclose(_outputs(net2), _outputs(net), rtol=1e-6, atol=1e-7)
    # a checkpoint is also a loadable model
    np.testing.assert_array_equal(_outputs(load_network(path)), _outputs(net))


def test_checkpoint_of_fresh_optimizer(tmp_path: Path) -> None:
    net, opt = _trained(), Adam(0.05)  # Adam before its first step: no state yet
    path = save_checkpoint(tmp_path / "ck.npz", net, opt, epoch=0, rng_state={}, state={})
    opt2 = Adam(0.05)
    load_checkpoint(path, Network(SIZES, activation="tanh", seed=1), opt2)
    assert opt2.state_arrays() == [] and opt2.steps == 0


@pytest.fixture
def checkpoint_file(tmp_path: Path) -> Path:
    net, opt = _trained(), Adam(0.05)
    _steps(net, opt, seed=2)
    return save_checkpoint(tmp_path / "ck.npz", net, opt, epoch=2, rng_state={}, state={})


def test_checkpoint_mismatches(checkpoint_file: Path, model_file: Path) -> None:
    fresh = Network(SIZES, activation="tanh", seed=1)
    with pytest.raises(ModelFileError, match="not a checkpoint"):
        load_checkpoint(model_file, fresh, Adam(0.05))
    with pytest.raises(ModelFileError, match="checkpoint optimiser 'adam' differs from 'momentum'"):
        load_checkpoint(checkpoint_file, fresh, Momentum(0.1))
    other = Network([6, 7, 4], activation="tanh", seed=1)
    before = [to_numpy(p).copy() for p in other.parameters]
    with pytest.raises(ModelFileError, match=r"checkpoint network .* differs"):
        load_checkpoint(checkpoint_file, other, Adam(0.05))
    for a, b in zip(before, other.parameters, strict=True):
        np.testing.assert_array_equal(a, to_numpy(b))


@pytest.mark.parametrize(
    ("arrays", "changes", "message"),
    [
        ({"opt3": None}, {}, "missing optimiser array 'opt3'"),
        ({"opt0": np.zeros((4, 5), np.float32)}, {}, r"'opt0' has shape \(4, 5\)"),
        ({"opt1": np.zeros((4, 5), np.float64)}, {}, "dtype float64, expected"),
        ({}, {"optimizer": {"name": "adam"}}, "invalid checkpoint metadata .*'n_state'"),
        ({}, {"epoch": None}, "invalid checkpoint metadata .*'epoch'"),
        ({}, {"rng_state": None}, "invalid checkpoint metadata .*'rng_state'"),
        ({}, {"state": [1]}, "invalid checkpoint metadata .*'state' must be a JSON object"),
    ],
)
def test_broken_checkpoint(
    checkpoint_file: Path, arrays: dict[str, Any], changes: dict[str, Any], message: str
) -> None:
    broken = _rewrite(checkpoint_file, arrays, **changes)
    net = Network(SIZES, activation="tanh", seed=1)
    before = [to_numpy(p).copy() for p in net.parameters]
    opt = Adam(0.05)
    with pytest.raises(ModelFileError, match=message):
        load_checkpoint(broken, net, opt)
    # nothing was half-restored
    for a, b in zip(before, net.parameters, strict=True):
        np.testing.assert_array_equal(a, to_numpy(b))
    assert opt.state_arrays() == [] and opt.steps == 0


def test_optimizer_count_mismatch(checkpoint_file: Path) -> None:
    meta = read_metadata(checkpoint_file)
    broken = _rewrite(checkpoint_file, optimizer={**meta["optimizer"], "n_state": 3})
    with pytest.raises(ModelFileError, match="3 optimiser arrays do not match 4 parameters"):
        load_checkpoint(broken, Network(SIZES, activation="tanh", seed=1), Adam(0.05))


# --------------------------------------------------------------------------------------
# files written by earlier versions
# --------------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parent / "data"


def test_model_file_of_the_first_format_loads() -> None:
    # Written before issue 10 (the package split) by save_network; must load unchanged.
    path = DATA / "model_v1.npz"
    net = load_network(path)
    with np.load(path, allow_pickle=False) as raw:
        W0, b0, W1, b1 = (raw[k] for k in ("W0", "b0", "W1", "b1"))
    assert net.config()["sizes"] == [6, 5, 4]
    assert read_metadata(path)["training"]["epochs"] == 3
    X = _data(1)[0].astype(np.float32)
    # An independent forward pass over the raw arrays: tanh hidden layer, softmax output.
    Z = np.tanh(X @ W0.T + b0) @ W1.T + b1
    expected = np.exp(Z - Z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_outputs(net), expected, rtol=1e-5, atol=1e-6)


def test_checkpoint_of_the_first_format_resumes() -> None:
    path = DATA / "checkpoint_v1.npz"
    net = Network(SIZES, activation="tanh", dtype="float32", seed=0)
    optimizer = Adam(0.05)
    metadata = load_checkpoint(path, net, optimizer)
    assert metadata["epoch"] == 3
    assert metadata["state"] == {"history": [{"epoch": 1, "train_cost": 1.25}]}
    assert optimizer.steps == 3
    assert len(optimizer.state_arrays()) == 8
    with np.load(path, allow_pickle=False) as raw:
        np.testing.assert_array_equal(to_numpy(net.parameters[0]), raw["W0"])
        np.testing.assert_array_equal(to_numpy(optimizer.state_arrays()[0]), raw["opt0"])
