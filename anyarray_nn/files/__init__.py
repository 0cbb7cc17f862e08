"""File output shared by the whole package: one atomic writer and one JSON writer.

Layer 0: nothing here imports from the rest of :mod:`anyarray_nn`.

* :func:`atomic_write` -- write a file through a unique temporary file in the same folder,
  moved over the target only when complete (models, checkpoints, IDX files, downloads,
  figures, JSON);
* :func:`write_json` -- strict JSON (non-finite floats written as ``null``), atomically;
* :func:`json_ready` -- the conversion :func:`write_json` applies before encoding.
"""

from .atomic import atomic_write
from .jsonfile import json_ready, write_json

__all__ = ["atomic_write", "json_ready", "write_json"]
