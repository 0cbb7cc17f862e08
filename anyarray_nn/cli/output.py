"""What the commands print and the one place where they write JSON files.

:func:`write_json_output` is the command line's only writer of its own JSON payloads and
:func:`write_tune_json` its only call of the tuning result's writer: pointing them at a
shared file-writing helper changes every command at once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["json_ready", "say", "write_json_output", "write_tune_json"]


def say(args: argparse.Namespace, text: str) -> None:
    """Print ``text`` unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def json_ready(value: Any) -> Any:
    """Replace non-finite floats by None (strict JSON) and NumPy values by Python ones."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        return json_ready(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json_output(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write a command's ``payload`` as strict JSON, atomically (temporary file, rename).

    Parameters
    ----------
    path : str or os.PathLike
        The ``--json`` file; missing parent folders are created.
    payload : dict
        JSON-able values, NumPy scalars and arrays, paths; non-finite floats become null.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(json_ready(payload), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


def write_tune_json(result: Any, path: str | os.PathLike[str]) -> Path:
    """Write a :class:`anyarray_nn.tuning.TuneResult` as ``tune --json`` does."""
    from ..tuning import write_json

    return write_json(result, path)
