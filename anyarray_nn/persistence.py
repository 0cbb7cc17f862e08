"""Saving and loading networks and training checkpoints as single ``.npz`` files.

A file holds the arrays (``W0``, ``b0``, ``W1``, ... and, in a checkpoint, the optimiser
state ``opt0``, ``opt1``, ...) and one JSON entry ``metadata`` (format version, architecture,
dtype, training configuration, ...).  Nothing is pickled: files are read with
``allow_pickle=False``, and the metadata is validated against the arrays before a network is
built.  Writes go to a temporary file in the same folder that is renamed over the target only
when complete, so an interrupted save never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .backend import Backend, from_numpy, to_numpy
from .network import Network
from .optimizers import Optimizer

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "load_checkpoint",
    "load_network",
    "read_metadata",
    "save_checkpoint",
    "save_network",
]

FORMAT_VERSION = 1
_KIND_MODEL = "anyarray_nn.model"
_KIND_CHECKPOINT = "anyarray_nn.checkpoint"


class ModelFileError(ValueError):
    """A model or checkpoint file is missing, corrupt, or inconsistent with its metadata."""


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(arrays)
    payload["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from exc
    if "metadata" not in arrays:
        raise ModelFileError(f"{path}: no 'metadata' entry; not an anyarray_nn file")
    try:
        metadata = json.loads(str(arrays.pop("metadata")))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict) or metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported format version {metadata.get('format_version')!r} "
            f"(this anyarray_nn reads version {FORMAT_VERSION})"
        )
    return arrays, metadata


def _network_arrays(network: Network) -> dict[str, np.ndarray]:
    Ws, bs = network.get_weights()
    arrays = {f"W{l}": W for l, W in enumerate(Ws)}
    arrays.update({f"b{l}": b for l, b in enumerate(bs)})
    return arrays


def _build(
    path: Path,
    arrays: dict[str, np.ndarray],
    metadata: dict[str, Any],
    backend: str | ModuleType | Backend,
    device: Any,
) -> Network:
    try:
        architecture = metadata["network"]
        sizes = [int(n) for n in architecture["sizes"]]
        net = Network(
            sizes,
            activation=architecture["activation"],
            output=architecture["output"],
            cost=architecture["cost"],
            init=architecture["init"],
            bias_init=architecture["bias_init"],
            dtype=architecture["dtype"],
            backend=backend,
            device=device,
            seed=0,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid network metadata ({exc})") from exc
    n = len(sizes) - 1
    try:
        Ws = [arrays[f"W{l}"] for l in range(n)]
        bs = [arrays[f"b{l}"] for l in range(n)]
    except KeyError as exc:
        raise ModelFileError(f"{path}: missing array {exc.args[0]}") from exc
    for a in [*Ws, *bs]:
        if a.dtype != np.dtype(architecture["dtype"]):
            raise ModelFileError(
                f"{path}: array of dtype {a.dtype}, metadata says {architecture['dtype']}"
            )
        if not np.all(np.isfinite(a)):
            raise ModelFileError(f"{path}: weights contain NaN or inf")
    try:
        net.set_weights(Ws, bs)
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    return net


def save_network(
    network: Network, path: str | os.PathLike[str], training: dict[str, Any] | None = None
) -> Path:
    """Save a network's weights and architecture to a single ``.npz`` file, atomically.

    Parameters
    ----------
    network : Network
        The network (any backend; weights are copied to the host).
    path : path-like
        Target file; ``.npz`` is appended when missing.
    training : dict, optional
        JSON-serialisable training configuration and results to keep with the model.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    metadata = {
        "format_version": FORMAT_VERSION,
        "kind": _KIND_MODEL,
        "network": network.config(),
        "training": training or {},
    }
    _atomic_savez(path, _network_arrays(network), metadata)
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of a model or checkpoint file."""
    return _read(path)[1]


def load_network(
    path: str | os.PathLike[str],
    backend: str | ModuleType | Backend = "numpy",
    device: Any = None,
) -> Network:
    """Load a network saved by :func:`save_network` (or a checkpoint) onto any backend.

    A network trained on CuPy loads on NumPy and vice versa.

    Raises
    ------
    ModelFileError
        The file is missing, not an anyarray_nn file, or inconsistent.
    """
    arrays, metadata = _read(path)
    return _build(Path(path), arrays, metadata, backend, device)


def save_checkpoint(
    path: str | os.PathLike[str],
    network: Network,
    optimizer: Optimizer,
    *,
    epoch: int,
    rng_state: dict[str, Any],
    state: dict[str, Any],
) -> Path:
    """Write a training checkpoint: weights, optimiser state, epoch, RNG state, and ``state``.

    ``state`` is any JSON-serialisable dict (the training configuration and history).
    """
    arrays = _network_arrays(network)
    for i, a in enumerate(optimizer.state_arrays()):
        arrays[f"opt{i}"] = to_numpy(a)
    metadata = {
        "format_version": FORMAT_VERSION,
        "kind": _KIND_CHECKPOINT,
        "network": network.config(),
        "optimizer": {
            **optimizer.config(),
            "steps": optimizer.steps,
            "n_state": len(optimizer.state_arrays()),
        },
        "epoch": int(epoch),
        "rng_state": rng_state,
        "state": state,
    }
    path = Path(path)
    _atomic_savez(path, arrays, metadata)
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    network: Network,
    optimizer: Optimizer,
) -> dict[str, Any]:
    """Restore ``network`` and ``optimizer`` in place from a checkpoint; return its metadata.

    Raises
    ------
    ModelFileError
        If the checkpoint's architecture or optimiser differs from the ones given.
    """
    arrays, metadata = _read(path)
    if metadata.get("kind") != _KIND_CHECKPOINT:
        raise ModelFileError(f"{path}: not a checkpoint (a saved model cannot be resumed)")
    if metadata["network"] != network.config():
        raise ModelFileError(
            f"{path}: checkpoint network {metadata['network']} differs from {network.config()}"
        )
    if metadata["optimizer"]["name"] != optimizer.name:
        raise ModelFileError(
            f"{path}: checkpoint optimiser {metadata['optimizer']['name']!r} differs from "
            f"{optimizer.name!r}"
        )
    loaded = _build(Path(path), arrays, metadata, network.backend, None)
    network.weights, network.biases = loaded.weights, loaded.biases
    n_state = int(metadata["optimizer"]["n_state"])
    try:
        opt_arrays = [from_numpy(arrays[f"opt{i}"], network.backend) for i in range(n_state)]
    except KeyError as exc:
        raise ModelFileError(f"{path}: missing optimiser array {exc.args[0]}") from exc
    optimizer.load_state(opt_arrays, int(metadata["optimizer"]["steps"]))
    return metadata
