"""What the commands print and the one place where they write JSON files.

:func:`write_json_output` is the command line's only writer of its own JSON payloads and
:func:`write_tune_json` its only call of the tuning result's writer: pointing them at a
shared file-writing helper changes every command at once.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..files import write_json

__all__ = ["say", "write_json_output", "write_tune_json"]


def say(args: argparse.Namespace, text: str) -> None:
    """Print ``text`` unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def write_json_output(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write a command's ``payload`` with the package's one JSON writer.

    Strict JSON (non-finite floats become null), written atomically; missing parent folders
    are created (see :func:`anyarray_nn.files.write_json`).
    """
    return write_json(path, payload)


def write_tune_json(result: Any, path: str | os.PathLike[str]) -> Path:
    """Write a :class:`anyarray_nn.tuning.TuneResult` as ``tune --json`` does."""
    from ..tuning import write_json

    return write_json(result, path)
