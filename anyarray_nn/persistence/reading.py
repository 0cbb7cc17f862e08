"""Bounded reading of model and checkpoint files (the reading half of :mod:`.persistence`).

The file is untrusted: the metadata entry is read first and alone (bounded), then only the
entries that the metadata and the caller expect; each one's ``.npy`` header is checked
against the architecture, the dtype and :data:`MAX_PARAMETERS` before any array is read
(:class:`~anyarray_nn.files.npz.NpzReader`).  Every failure is a :class:`ModelFileError`.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..files.npz import NpyHeader, NpzError, NpzReader
from ..nn import checks
from ..nn.network import Network

FORMAT_VERSION = 1
KIND_MODEL = "anyarray_nn.model"
KIND_CHECKPOINT = "anyarray_nn.checkpoint"


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
    if metadata.get("kind") not in (KIND_MODEL, KIND_CHECKPOINT):
        raise ModelFileError(
            f"{path}: unknown file kind {metadata.get('kind')!r}; expected "
            f"{KIND_MODEL!r} or {KIND_CHECKPOINT!r}"
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
