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
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import Backend, from_numpy, to_numpy
from ..files import atomic_write
from ..nn.network import Network
from ..nn.optimizers import Optimizer
from .reading import (
    FORMAT_VERSION,
    KIND_CHECKPOINT,
    KIND_MODEL,
    MAX_ABS_WEIGHT,
    MAX_PARAMETERS,
    ModelFileError,
    NpzReader,
    _architecture,
    _open,
    _read_metadata,
    _read_parameters,
    _read_state,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_ABS_WEIGHT",
    "MAX_PARAMETERS",
    "ModelFileError",
    "load_checkpoint",
    "load_network",
    "read_metadata",
    "save_checkpoint",
    "save_network",
]


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(arrays)
    payload["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    with atomic_write(path, "wb") as file:
        np.savez(file, **payload)


def _network_arrays(network: Network) -> dict[str, np.ndarray]:
    Ws, bs = network.get_weights()
    arrays = {f"W{l}": W for l, W in enumerate(Ws)}
    arrays.update({f"b{l}": b for l, b in enumerate(bs)})
    return arrays


def _build(
    path: Path,
    npz: NpzReader,
    metadata: dict[str, Any],
    backend: str | ModuleType | Backend,
    device: Any,
    max_parameters: int,
) -> Network:
    """The network of a file: metadata and headers checked before any array is read."""
    architecture, sizes = _architecture(path, metadata, max_parameters)
    Ws, bs = _read_parameters(path, npz, sizes, np.dtype(architecture["dtype"]))
    net = Network.from_config(architecture, backend, device)
    net.set_weights(Ws, bs)
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
        "kind": KIND_MODEL,
        "network": network.config(),
        "training": training or {},
    }
    _atomic_savez(path, _network_arrays(network), metadata)
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of a model or checkpoint file (no array is read).

    Raises
    ------
    ModelFileError
        The file is missing, not an anyarray_nn file, or its metadata is damaged.
    """
    path = Path(path)
    with _open(path) as npz:
        return _read_metadata(path, npz)


def load_network(
    path: str | os.PathLike[str],
    backend: str | ModuleType | Backend = "numpy",
    device: Any = None,
    *,
    max_parameters: int = MAX_PARAMETERS,
) -> Network:
    """Load a network saved by :func:`save_network` (or a checkpoint) onto any backend.

    A network trained on CuPy loads on NumPy and vice versa.  The file is untrusted: the
    metadata is read first, then only the expected entries' headers, checked against the
    metadata and :data:`MAX_PARAMETERS`, before any array is read or any network built.

    Parameters
    ----------
    path : path-like
    backend, device
        Where the network lives.
    max_parameters : int, default :data:`MAX_PARAMETERS`
        Largest network accepted (weights and biases).

    Raises
    ------
    ModelFileError
        The file is missing, not an anyarray_nn file, inconsistent, too large, or holds
        weights that are not finite or above :data:`MAX_ABS_WEIGHT` in magnitude.
    """
    path = Path(path)
    with _open(path) as npz:
        metadata = _read_metadata(path, npz)
        return _build(path, npz, metadata, backend, device, max_parameters)


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
        "kind": KIND_CHECKPOINT,
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

    The metadata is compared with ``network`` and ``optimizer`` and every array's header
    with the shapes they imply before any array is read; nothing is restored unless all of
    the file is good.

    Raises
    ------
    ModelFileError
        If the checkpoint is damaged, or its architecture or optimiser differs from the
        ones given.
    """
    path = Path(path)
    with _open(path) as npz:
        metadata = _read_metadata(path, npz)
        n_state, steps = _check_checkpoint(path, metadata, network, optimizer)
        sizes = tuple(network.sizes)
        dtype = np.dtype(network.dtype_name)
        Ws, bs = _read_parameters(path, npz, sizes, dtype)
        host_state = _read_state(path, npz, [*Ws, *bs], n_state)
    network.set_weights(Ws, bs)
    optimizer.load_state([from_numpy(a, network.backend) for a in host_state], steps)
    return metadata


def _check_checkpoint(
    path: Path, metadata: dict[str, Any], network: Network, optimizer: Optimizer
) -> tuple[int, int]:
    """The checkpoint's optimiser-state count and steps, once its metadata fits the run."""
    if metadata.get("kind") != KIND_CHECKPOINT:
        raise ModelFileError(f"{path}: not a checkpoint (a saved model cannot be resumed)")
    try:
        saved_network, saved_optimizer = metadata["network"], metadata["optimizer"]
        saved_name = saved_optimizer["name"]
        n_state, steps = int(saved_optimizer["n_state"]), int(saved_optimizer["steps"])
        int(metadata["epoch"])
        for key in ("rng_state", "state"):
            if not isinstance(metadata[key], dict):
                raise TypeError(f"{key!r} must be a JSON object")
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
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
    n_parameters = 2 * network.n_layers
    # Optimiser state mirrors the parameters (weights then biases), once per moment; no
    # optimiser here keeps more than two moments.
    if not 0 <= n_state <= 2 * n_parameters or n_state % n_parameters != 0:
        raise ModelFileError(
            f"{path}: {n_state} optimiser arrays do not match {n_parameters} parameters"
        )
    if steps < 0:
        raise ModelFileError(f"{path}: invalid checkpoint metadata (steps {steps} < 0)")
    return n_state, steps
