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

import itertools
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .backend import Backend, from_numpy, to_numpy
from .files import atomic_write
from .files.npz import NpyHeader, NpzError, NpzReader
from .nn import checks
from .nn.network import Network
from .nn.optimizers import Optimizer

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

FORMAT_VERSION = 1
_KIND_MODEL = "anyarray_nn.model"
_KIND_CHECKPOINT = "anyarray_nn.checkpoint"


class ModelFileError(ValueError):
    """A model or checkpoint file is missing, corrupt, unsafe or inconsistent with its metadata."""


#: Largest ``metadata`` entry read (the JSON of the architecture, configuration, history).
MAX_METADATA_BYTES = 16 << 20
#: Default limit on the weights and biases of a loaded network (400 MB in float32); a file
#: claiming more is refused before anything is allocated (``max_parameters=`` raises it).
MAX_PARAMETERS = 100_000_000
#: Largest weight magnitude accepted from a file: trained weights stay far below; a file
#: above it was damaged or diverged, and would predict NaN.
MAX_ABS_WEIGHT = 1e6
_NPY_MAGIC = b"\x93NUMPY"


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(arrays)
    payload["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    with atomic_write(path, "wb") as file:
        np.savez(file, **payload)


def _open(path: Path) -> NpzReader:
    """The file opened for bounded reads (:class:`ModelFileError` when it cannot be)."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as fh:
            if fh.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                raise ModelFileError(f"{path}: a single .npy array, not an .npz model file")
        return NpzReader(path)
    except NpzError as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from exc
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the file ({exc})") from exc


def _entry(path: Path, npz: NpzReader, name: str) -> NpyHeader:
    """The checked header of entry ``name``."""
    if name not in npz.names:
        raise ModelFileError(f"{path}: missing array {name!r}")
    try:
        return npz.header(name)
    except NpzError as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from exc


def _load(path: Path, npz: NpzReader, header: NpyHeader) -> np.ndarray:
    try:
        return npz.read(header)
    except NpzError as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from exc


def _read_metadata(path: Path, npz: NpzReader) -> dict[str, Any]:
    """The metadata entry, read first and alone, bounded, as a checked JSON object."""
    if "metadata" not in npz.names:
        raise ModelFileError(f"{path}: no 'metadata' entry; not an anyarray_nn file")
    header = _entry(path, npz, "metadata")
    if header.shape != () or header.dtype.kind != "U":
        raise ModelFileError(
            f"{path}: the 'metadata' entry must be one JSON string, got an array of "
            f"dtype {header.dtype} and shape {header.shape}"
        )
    if header.nbytes > MAX_METADATA_BYTES:
        raise ModelFileError(
            f"{path}: the 'metadata' entry is {header.nbytes} bytes, more than the "
            f"{MAX_METADATA_BYTES} bytes a model file's metadata may have"
        )
    try:
        metadata = json.loads(str(_load(path, npz, header)[()]))
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ModelFileError(f"{path}: metadata is not valid JSON ({reason})") from None
    return _check_metadata(path, metadata)


def _check_metadata(path: Path, metadata: Any) -> dict[str, Any]:
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
    return metadata


def _architecture(
    path: Path, metadata: dict[str, Any], max_parameters: int
) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The metadata's architecture and sizes, validated without allocating the network."""
    try:
        architecture = metadata["network"]
        sizes = checks.check_sizes(architecture["sizes"])
        # A one-unit network of the same depth checks every other entry for pennies.
        Network.from_config({**architecture, "sizes": [1] * len(sizes)})
    except (KeyError, TypeError, ValueError) as exc:
        reason = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFileError(f"{path}: invalid network metadata ({reason})") from exc
    n = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    if n > max_parameters:
        raise ModelFileError(
            f"{path}: the metadata claims a network of {n} parameters (sizes "
            f"{_short(sizes)}), more than the limit of {max_parameters}; pass "
            "max_parameters= to load larger networks"
        )
    return architecture, sizes


def _short(sizes: tuple[int, ...]) -> str:
    return str(list(sizes)) if len(sizes) <= 8 else f"[{sizes[0]}, ... {len(sizes)} layers]"


def _read_parameters(
    path: Path, npz: NpzReader, sizes: tuple[int, ...], dtype: np.dtype
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The weights and biases: every header checked first, then the arrays read."""
    n = len(sizes) - 1
    heads = [_entry(path, npz, f"{kind}{l}") for kind in "Wb" for l in range(n)]
    for h in heads:
        if h.dtype != dtype:
            raise ModelFileError(f"{path}: array of dtype {h.dtype}, metadata says {dtype}")
    try:
        checks.check_shapes(sizes, heads[:n], heads[n:])
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    arrays = [_load(path, npz, h) for h in heads]
    for h, a in zip(heads, arrays, strict=True):
        _check_values(path, h.name, a, MAX_ABS_WEIGHT)
    return arrays[:n], arrays[n:]


def _check_values(path: Path, name: str, a: np.ndarray, limit: float | None) -> None:
    """Finite values, and none above ``limit`` in magnitude (min/max: no temporary)."""
    low, high = float(a.min()), float(a.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ModelFileError(f"{path}: array {name!r}: weights contain NaN or inf")
    if limit is not None and max(-low, high) > limit:
        raise ModelFileError(
            f"{path}: array {name!r} holds values up to {max(-low, high):.3g} in magnitude, "
            f"above the {limit:g} a trained network has; the file is damaged or the run "
            "diverged"
        )


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
        "kind": _KIND_MODEL,
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


def _read_state(
    path: Path, npz: NpzReader, parameters: list[np.ndarray], n_state: int
) -> list[np.ndarray]:
    """The optimiser's arrays, each the shape and dtype of its parameter."""
    heads = []
    for i in range(n_state):
        key = f"opt{i}"
        if key not in npz.names:
            raise ModelFileError(f"{path}: missing optimiser array {key!r}")
        head, like = _entry(path, npz, key), parameters[i % len(parameters)]
        if head.shape != like.shape or head.dtype != like.dtype:
            raise ModelFileError(
                f"{path}: optimiser array {key!r} has shape {head.shape} and dtype "
                f"{head.dtype}, expected {like.shape} and {like.dtype}"
            )
        heads.append(head)
    state = [_load(path, npz, h) for h in heads]
    for h, a in zip(heads, state, strict=True):
        _check_values(path, h.name, a, None)
    return state
