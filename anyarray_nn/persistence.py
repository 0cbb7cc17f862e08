"""Saving and loading networks and training checkpoints as single ``.npz`` files.

A file holds the arrays (``W0``, ``b0``, ``W1``, ... and, in a checkpoint, the optimiser
state ``opt0``, ``opt1``, ...) and one JSON entry ``metadata`` (format version, architecture,
dtype, training configuration, ...).  Nothing is pickled: files are read with
``allow_pickle=False``, and the metadata is validated against the arrays before a network is
built.  Writes go to a temporary file in the same folder that is renamed over the target only
when complete (:func:`anyarray_nn.files.atomic_write`), so an interrupted save never leaves
a half-written model behind.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .backend import Backend, from_numpy, to_numpy
from .files import atomic_write
from .nn.network import Network
from .nn.optimizers import Optimizer

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
    with atomic_write(path, "wb") as file:
        np.savez(file, **payload)


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        # Our own handle: np.load leaks the one it opens when the zip is unreadable.
        with open(path, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                # np.load also reads a lone .npy array: not a model file.
                raise ModelFileError(f"{path}: a single .npy array, not an .npz model file")
            with loaded as data:
                arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from exc
    if "metadata" not in arrays:
        raise ModelFileError(f"{path}: no 'metadata' entry; not an anyarray_nn file")
    raw = arrays.pop("metadata")
    if raw.shape != () or raw.dtype.kind != "U":
        raise ModelFileError(
            f"{path}: the 'metadata' entry must be one JSON string, got an array of "
            f"dtype {raw.dtype} and shape {raw.shape}"
        )
    try:
        metadata = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise ModelFileError(
            f"{path}: metadata must be a JSON object, got {type(metadata).__name__}"
        )
    version = metadata.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: unsupported format version {version!r} "
            f"(this anyarray_nn reads version {FORMAT_VERSION})"
        )
    if metadata.get("kind") not in (_KIND_MODEL, _KIND_CHECKPOINT):
        raise ModelFileError(
            f"{path}: unknown file kind {metadata.get('kind')!r}; expected "
            f"{_KIND_MODEL!r} or {_KIND_CHECKPOINT!r}"
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
        dtype = np.dtype(architecture["dtype"])
        net = Network.from_config(architecture, backend, device)
    except (KeyError, TypeError, ValueError) as exc:
        reason = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFileError(f"{path}: invalid network metadata ({reason})") from exc
    n = len(sizes) - 1
    try:
        Ws = [arrays[f"W{l}"] for l in range(n)]
        bs = [arrays[f"b{l}"] for l in range(n)]
    except KeyError as exc:
        raise ModelFileError(f"{path}: missing array {exc.args[0]!r}") from exc
    for a in [*Ws, *bs]:
        if a.dtype != dtype:
            raise ModelFileError(f"{path}: array of dtype {a.dtype}, metadata says {dtype}")
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
    try:
        saved_network, saved_optimizer = metadata["network"], metadata["optimizer"]
        saved_name = saved_optimizer["name"]
        n_state, steps = int(saved_optimizer["n_state"]), int(saved_optimizer["steps"])
        int(metadata["epoch"])
        for key in ("rng_state", "state"):
            if not isinstance(metadata[key], dict):
                raise TypeError(f"{key!r} must be a JSON object")
    except (KeyError, TypeError, ValueError) as exc:
        reason = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFileError(f"{path}: invalid checkpoint metadata ({reason})") from exc
    if saved_network != network.config():
        raise ModelFileError(
            f"{path}: checkpoint network {saved_network} differs from {network.config()}"
        )
    if saved_name != optimizer.name:
        raise ModelFileError(
            f"{path}: checkpoint optimiser {saved_name!r} differs from {optimizer.name!r}"
        )
    loaded = _build(Path(path), arrays, metadata, network.backend, None)
    # Optimiser state mirrors the parameters (weights then biases), once per moment.
    shapes = [tuple(p.shape) for p in loaded.parameters]
    dtype = np.dtype(network.dtype_name)
    if n_state < 0 or n_state % len(shapes) != 0:
        raise ModelFileError(
            f"{path}: {n_state} optimiser arrays do not match {len(shapes)} parameters"
        )
    host_state = []
    for i in range(n_state):
        key = f"opt{i}"
        if key not in arrays:
            raise ModelFileError(f"{path}: missing optimiser array {key!r}")
        a = arrays[key]
        if tuple(a.shape) != shapes[i % len(shapes)] or a.dtype != dtype:
            raise ModelFileError(
                f"{path}: optimiser array {key!r} has shape {tuple(a.shape)} and dtype "
                f"{a.dtype}, expected {shapes[i % len(shapes)]} and {dtype}"
            )
        host_state.append(a)
    network.set_weights(*loaded.get_weights())
    optimizer.load_state([from_numpy(a, network.backend) for a in host_state], steps)
    return metadata
