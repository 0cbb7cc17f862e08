"""What the commands print and the one place where they write JSON files.

:func:`write_json_output` is the command line's only writer of its own JSON payloads and
:func:`write_tune_json` its only call of the tuning result's writer: pointing them at a
shared file-writing helper changes every command at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..files import write_json

__all__ = ["epoch_line", "epoch_printer", "say", "write_json_output", "write_tune_json"]


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


def epoch_line(record: Any) -> str:
    """One epoch of ``train`` as the line it prints."""
    text = (
        f"epoch {record.epoch:3d}  cost {record.train_cost:.4f}  "
        f"train acc {100 * record.train_accuracy:6.2f}%"
    )
    if record.validation_accuracy is not None:
        text += f"  val acc {100 * record.validation_accuracy:6.2f}%"
    text += f"  lr {record.learning_rate:.3g}  {record.seconds:.1f}s"
    if record.dead_units:  # ReLU: a unit at 0 is inactive, not saturated
        text += f"  inactive hidden {100 * record.saturation[0]:.1f}%"
        text += f"  dead {'/'.join(f'{100 * d:.1f}%' for d in record.dead_units)}"
    elif record.saturation:
        text += f"  saturated hidden {100 * record.saturation[0]:.1f}%"
    return text


def epoch_printer(args: argparse.Namespace) -> Any:
    """The per-epoch callback: one line per epoch, above the progress bar when there is one."""
    bar_shown = sys.stderr.isatty() if args.progress is None else args.progress

    def on_epoch(record: Any) -> None:
        if args.quiet:
            return
        if bar_shown:  # print above the progress bar instead of through it
            from tqdm.auto import tqdm

            tqdm.write(epoch_line(record))
        else:
            print(epoch_line(record), flush=True)

    return on_epoch
