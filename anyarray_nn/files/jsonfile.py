"""One JSON writer, with one policy for values JSON cannot hold.

The policy
----------
Output is *strict* JSON (RFC 8259), readable by any parser:

* non-finite floats (``nan``, ``inf``, ``-inf``) are written as ``null``: the standard has
  no literal for them, and Python's default ``NaN``/``Infinity`` tokens break strict readers
  (JavaScript's ``JSON.parse``, ``jq``).  ``None`` in a report therefore means "not
  measured" or "not a number";
* NumPy arrays and scalars (anything with ``tolist()``) become lists and Python numbers;
  tuples become lists; paths become strings; mapping keys become strings (``str(key)``);
* after this conversion the text is encoded with ``allow_nan=False``, so a value that
  slipped through raises instead of producing invalid JSON;
* two-space indentation, keys in the order given, ASCII only, a final newline, written
  atomically (:func:`anyarray_nn.files.atomic_write`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import atomic_write

__all__ = ["json_ready", "write_json"]


def json_ready(value: Any) -> Any:
    """``value`` with every part converted to what strict JSON can hold (see the policy).

    Examples
    --------
    >>> json_ready({"loss": float("nan"), "sizes": (784, 30, 10), 1: float("inf")})
    {'loss': None, 'sizes': [784, 30, 10], '1': None}
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float):  # also NumPy's float64, a float subclass
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # NumPy arrays and scalars (and other array libraries')
        return json_ready(value.tolist())
    return value  # json.dumps raises TypeError naming the type


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as strict JSON, atomically; create missing parent folders.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (replaced when it exists).
    data : JSON-like
        Dicts, lists, tuples, strings, numbers, booleans, ``None``, paths and NumPy values;
        non-finite floats are written as ``null`` (see the module's policy).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        A value JSON cannot represent (e.g. a set or an arbitrary object).
    """
    path = Path(path)
    text = json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as file:
        file.write(text)
    return path
