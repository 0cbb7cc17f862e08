"""Checks of the outputs (every command) and of ``train``'s settings before any work starts.

Minutes of training must not be lost to an output that cannot be written, and a setting
that cannot train must not train garbage and exit 0.  :func:`check_train` refuses, with a
:class:`~anyarray_nn.cli.errors.UsageError` (status 2):

* outputs: a ``--save``/``--json``/``--checkpoint`` path that is a folder, a folder that
  cannot be created or written (missing folders are created, for every output alike),
  two outputs on one file (``--save X --json X``, ``--checkpoint X --save X``, the
  checkpoint's best-model file), ``--plot`` without matplotlib;
* disk space: too little free space for the ``--save``/``--checkpoint`` files
  (:func:`check_disk_space`);
* settings: ``--epochs 0``; ``--gamma`` outside (0, 1] (a drop factor of the step
  schedule); ``--augment`` above :data:`MAX_SHIFT_FRACTION` of the image side (7 pixels of
  MNIST's 28: larger shifts move the digit out of the frame).

:func:`check_data` refuses a ``--train-size`` above the images available, after loading.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import shutil
from pathlib import Path
from typing import Any

from .errors import UsageError

__all__ = [
    "MAX_SHIFT_FRACTION",
    "check_data",
    "check_disk_space",
    "check_outputs",
    "check_train",
]

#: Largest ``--augment`` shift as a fraction of the image side.
MAX_SHIFT_FRACTION = 0.25
_IMAGE_SIDE = 28


def _npz(path: Path) -> Path:
    """The file ``save_network`` writes for ``path`` (``.npz`` appended when missing)."""
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _writable_folder(option: str, folder: Path) -> None:
    """``folder`` exists and is writable, or can be created (its nearest existing parent is
    a writable folder)."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{option}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: folder {probe} is not writable")


def _outputs(args: argparse.Namespace) -> dict[str, Path]:
    """Each file output as option -> resolved path."""
    files: dict[str, Path] = {}
    save, json_path = getattr(args, "save", None), getattr(args, "json", None)
    checkpoint_path = getattr(args, "checkpoint", None)
    if save:
        files["--save"] = _npz(Path(save)).expanduser().resolve()
    if json_path:
        files["--json"] = Path(json_path).expanduser().resolve()
    if checkpoint_path:
        checkpoint = Path(checkpoint_path).expanduser().resolve()
        files["--checkpoint"] = checkpoint
        files["--checkpoint (its best model)"] = checkpoint.with_name(checkpoint.name + ".best.npz")
    return files


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse outputs that would fail or overwrite each other after the work (every command:
    :func:`anyarray_nn.cli.main.main` calls this before any command runs)."""
    files = _outputs(args)
    seen: dict[Path, str] = {}
    for option, path in files.items():
        if path in seen:
            raise UsageError(f"{seen[path]} and {option} name the same file {path}")
        seen[path] = option
        if path.is_dir():
            raise UsageError(f"{option} {path} is a folder; give a file name")
        _writable_folder(option, path.parent)
    if getattr(args, "plot", None):
        plot = Path(args.plot).expanduser().resolve()
        if plot.exists() and not plot.is_dir():
            raise UsageError(f"--plot {plot} is a file; give a folder")
        _writable_folder("--plot", plot)
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError(
                "--plot needs matplotlib: pip install 'anyarray-nn[plot]' (or matplotlib)"
            )


def check_settings(args: argparse.Namespace) -> None:
    """Refuse settings that cannot train."""
    if args.epochs < 1:
        raise UsageError("--epochs must be at least 1 for train (use evaluate for a model)")
    if not 0.0 < args.gamma <= 1.0:
        raise UsageError(f"--gamma {args.gamma:g}: the step schedule's factor must be in (0, 1]")
    largest = int(MAX_SHIFT_FRACTION * _IMAGE_SIDE)
    if args.augment > largest:
        raise UsageError(
            f"--augment {args.augment}: shifts above {largest} pixels move the digits out of "
            f"the {_IMAGE_SIDE}-pixel frame"
        )


def check_disk_space(args: argparse.Namespace, sizes: Any = None) -> None:
    """Refuse a run whose model or checkpoint files cannot fit on their disks.

    A model file holds every parameter once; a checkpoint also holds the optimiser's state
    (two moments for Adam) and a best-model file beside it.  Twice that is asked for, as the
    atomic writer keeps the old file until the new one is complete.
    """
    sizes = sizes if sizes is not None else args.layers
    if sizes is None:
        return  # the sizes come from the data: checked again once it is loaded
    sizes = [int(n) for n in sizes]
    itemsize = 8 if getattr(args, "dtype", "float32") == "float64" else 4
    model = itemsize * sum(a * b + b for a, b in itertools.pairwise(sizes))
    needs = {"--save": 2 * model, "--checkpoint": 2 * 4 * model}
    for option, path in _outputs(args).items():
        if option not in needs:
            continue
        probe = path.parent
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free < needs[option]:
            raise UsageError(
                f"{option}: {needs[option] / 1e6:.1f} MB needed on {probe}, {free / 1e6:.1f} MB "
                "free; free some space or choose another folder"
            )


def check_train(args: argparse.Namespace) -> None:
    """All the checks of ``train`` that need no data (see the module docstring)."""
    check_settings(args)
    check_outputs(args)
    check_disk_space(args)


def check_data(args: argparse.Namespace, data: Any) -> None:
    """Refuse a ``--train-size`` above the training images available."""
    if args.train_size is None:
        return
    sizes = data.sizes()
    available = sizes["train"] + sizes["validation"]  # the validation split comes from it
    if args.train_size > available:
        raise UsageError(
            f"--train-size {args.train_size} is more than the {available} training images available"
        )
