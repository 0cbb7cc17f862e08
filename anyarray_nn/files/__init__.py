"""File output shared by the whole package: one atomic writer and one JSON writer.

Layer 0: nothing here imports from the rest of :mod:`anyarray_nn`.

* :func:`atomic_write` -- write a file through a unique temporary file in the same folder,
  moved over the target only when complete (models, checkpoints, IDX files, downloads,
  figures, JSON);
* :func:`write_json` -- strict JSON (non-finite floats written as ``null``), atomically;
* :func:`json_ready` -- the conversion :func:`write_json` applies before encoding;
* :func:`remove_stale_temporaries` -- remove temporaries left by killed writers (done by
  :func:`atomic_write` on its first write to a folder);
* :class:`~anyarray_nn.files.npz.NpzReader` -- bounded reads of untrusted ``.npz`` files.
"""

from .atomic import atomic_write, remove_stale_temporaries
from .jsonfile import json_ready, write_json

__all__ = ["atomic_write", "json_ready", "remove_stale_temporaries", "write_json"]
