"""Shared option groups of the commands and the argparse value types.

The groups (:func:`add_backend`, :func:`add_dtype`, :func:`add_data`, :func:`add_progress`,
:func:`add_json`, :func:`add_plot`) add the same flags with the same help to every command
that has them.  The value types turn the text of one option into a checked Python value or
raise :class:`argparse.ArgumentTypeError`, which the parser reports as a one-line usage
error.  Defaults come from the library (:func:`signature_default`), never from literals here.
"""

from __future__ import annotations

import argparse
import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..backend import BACKEND_NAMES, DTYPES, resolve_backend
from ..data import DATASET_NAMES, MNISTNotFoundError
from ..libraries import DEFAULT_THREADS

__all__ = [
    "DTYPES",
    "add_backend",
    "add_data",
    "add_dtype",
    "add_json",
    "add_plot",
    "add_progress",
    "count_or_fraction",
    "device",
    "finite_float",
    "load_data",
    "non_negative_int",
    "parse_layers",
    "positive_float",
    "positive_int",
    "signature_default",
]

#: Floating dtypes a network computes in (what ``backend.resolve_dtype`` accepts).

#: ``argparse`` groups and parsers both have ``add_argument``.
Group = argparse._ActionsContainer


def signature_default(function: Callable[..., Any], name: str) -> Any:
    """The default of parameter ``name`` of ``function``: the library's, never a copy."""
    return inspect.signature(function).parameters[name].default


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _int(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = _int(text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """A finite number."""
    return _finite(text, "a finite number")


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _finite(text, "a positive number")
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def count_or_fraction(text: str) -> int | float:
    """A sample count (``"10000"``) or a fraction of a data set (``"0.1"``, ``"1e-1"``)."""
    if any(c in text for c in ".eE"):
        return _finite(text, "a count or a fraction")
    return _int(text, "a count or a fraction")


def parse_layers(text: str) -> tuple[int, ...]:
    """``"784,64,10"`` -> ``(784, 64, 10)``; the data's sizes are checked once it is loaded."""
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--layers must be comma-separated integers such as 784,64,10, got {text!r}"
        ) from None
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(
            f"--layers needs at least two positive sizes such as 784,64,10, got {text!r}"
        )
    return sizes


def device(text: str | None) -> Any:
    """The ``--device`` text as the backend takes it: a GPU number as an ``int``."""
    if text is None:
        return None
    return int(text) if text.isdigit() else text


# --------------------------------------------------------------------------------------
# option groups
# --------------------------------------------------------------------------------------


def add_backend(group: Group) -> None:
    """``--backend`` (one of :data:`anyarray_nn.backend.BACKEND_NAMES`), ``--device`` and
    ``--threads`` (applied by :func:`anyarray_nn.cli.main.main` before the command runs)."""
    group.add_argument(
        "--backend",
        default=signature_default(resolve_backend, "backend"),
        choices=BACKEND_NAMES,
        help="array library to compute with: numpy (CPU), cupy (CUDA GPU), torch (CPU, CUDA, "
        "MPS), jax (CPU, GPU; compiled training step) or array_api_strict (default: "
        "%(default)s)",
    )
    group.add_argument(
        "--device",
        default=None,
        help="device within the backend: a GPU number for cupy; cpu, cuda, cuda:N or mps for "
        "torch; cpu, gpu or gpu:N for jax (default: the library's default device)",
    )
    group.add_argument(
        "--threads",
        type=non_negative_int,
        default=DEFAULT_THREADS,
        metavar="N",
        help="CPU threads of BLAS, OpenMP, torch and JAX; 0 leaves the libraries' defaults "
        "(default: %(default)s, fastest at these sizes and on a shared machine)",
    )


def add_dtype(group: Group, default: str) -> None:
    """``--dtype``, one of :data:`DTYPES`."""
    group.add_argument("--dtype", choices=DTYPES, default=default, help="(default: %(default)s)")


def add_data(group: Group) -> None:
    """``--dataset``, ``--data-dir``, ``--no-verify`` and ``--no-download`` (read by
    :func:`load_data`)."""
    group.add_argument(
        "--dataset",
        choices=DATASET_NAMES,
        default=None,
        help="named data set, downloaded, verified by SHA-256 and cached on first use "
        "(default: mnist; with --data-dir and --no-verify: whatever IDX data the folder holds)",
    )
    group.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the four IDX files (default: $ANYARRAY_NN_DATA for mnist, else the "
        "per-user cache, downloading on first use)",
    )
    group.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the SHA-256 check: for any IDX data (any image size, any number of "
        "classes); the files are still format-checked",
    )
    group.add_argument(
        "--no-download",
        action="store_true",
        help="never download; fail when the files are missing",
    )


def add_progress(group: Group) -> None:
    """``--progress/--no-progress`` and ``-q/--quiet``."""
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: only on an interactive terminal)",
    )
    group.add_argument("-q", "--quiet", action="store_true", help="print only the final result")


def add_json(group: Group, what: str) -> None:
    """``--json PATH``; ``what`` says what the file holds."""
    group.add_argument("--json", type=Path, default=None, metavar="PATH", help=what)


def add_plot(group: Group, what: str) -> None:
    """``--plot DIR``; ``what`` says which figures."""
    group.add_argument("--plot", type=Path, default=None, metavar="DIR", help=what)


def load_data(args: argparse.Namespace, **kwargs: Any) -> Any:
    """The data splits that the :func:`add_data` and :func:`add_progress` options ask for.

    ``kwargs`` go to :func:`anyarray_nn.experiments.prepare_data` (``train_size``,
    ``validation_size``, ``seed``).
    """
    from ..experiments import prepare_data

    data_dir = args.data_dir
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise MNISTNotFoundError(
            f"--data-dir {data_dir}: no such folder; create it (a named data set is then "
            "downloaded into it) or point it at a folder with the four IDX files"
        )
    return prepare_data(
        data_dir,
        download=not args.no_download,
        progress=getattr(args, "progress", None),  # tune has no --progress: a terminal's bar
        dataset=args.dataset,
        verify=not args.no_verify,
        **kwargs,
    )


def recorded_data(model: Path) -> dict[str, Any]:
    """What ``train --save`` recorded of the model's data, checked: ``dataset`` (a name of
    :data:`DATASET_NAMES`, else ``None``) and ``class_names`` (printable strings of at most
    100 characters, else none: a model file is untrusted and its names reach the terminal).
    Both are absent from models saved before they were recorded, or by Python code."""
    from ..persistence import read_metadata

    training = read_metadata(model).get("training")
    data = training.get("data") if isinstance(training, dict) else None
    data = data if isinstance(data, dict) else {}
    dataset = data.get("dataset")
    names = data.get("class_names")
    printable = isinstance(names, list) and all(
        isinstance(n, str) and n.isprintable() and len(n) <= 100 for n in names
    )
    return {
        "dataset": dataset if isinstance(dataset, str) and dataset in DATASET_NAMES else None,
        "class_names": names if printable else [],
    }
