"""What a study was started with, so that a later run does not silently join another one.

A study records its settings (the data, the epochs per trial, the seed and the search
space) as the user attribute ``settings`` when it is created.  Running ``tune`` again with
the same storage and study name resumes the study only with the same settings; otherwise
:func:`check_settings` refuses, naming each difference and how to start a new study.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..experiments import DataSplits
from .space import SearchSpace
from .storage import TuningError

__all__ = ["check_settings", "study_settings"]

_ATTRIBUTE = "settings"


def _fingerprint(data: DataSplits) -> str:
    """A short hash of the labels of every split (cheap; tells data sets apart)."""
    sha = hashlib.sha256()
    for labels in (data.train_labels, data.validation_labels, data.test_labels):
        if labels is not None:
            sha.update(np.ascontiguousarray(labels).tobytes())
            sha.update(b"|")
    return sha.hexdigest()[:16]


def study_settings(data: DataSplits, epochs: int, seed: int, space: SearchSpace) -> dict[str, Any]:
    """The settings that make a study's trials comparable, as JSON-ready values."""
    sizes = data.sizes()
    return {
        "train_size": sizes["train"],
        "validation_size": sizes["validation"],
        "data": _fingerprint(data),
        "epochs": int(epochs),
        "seed": int(seed),
        "space": {name: repr(spec) for name, spec in sorted(space.specs.items())},
    }


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(saved) | set(current)):
        old, new = saved.get(key), current.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            out += [
                f"{key} {name}: {old.get(name)} -> {new.get(name)}"
                for name in sorted(set(old) | set(new))
                if old.get(name) != new.get(name)
            ]
        else:
            out.append(f"{key}: {old} -> {new}")
    return out


def check_settings(study: Any, settings: dict[str, Any], where: str) -> None:
    """Record ``settings`` in a new study; refuse to join one started with others.

    A study of an earlier version (trials but no settings) gets them recorded.

    Raises
    ------
    TuningError
        The study's settings differ; the message lists each difference.
    """
    saved = study.user_attrs.get(_ATTRIBUTE)
    if saved is None:
        study.set_user_attr(_ATTRIBUTE, settings)
        return
    changes = _differences(saved, settings) if isinstance(saved, dict) else ["unreadable"]
    if changes:
        raise TuningError(
            f"study {study.study_name!r} in {where} was started with other settings "
            f"({'; '.join(changes)}): its trials are not comparable. Rerun with its settings "
            "to resume it, or start a new study with --study-name NAME (Python: study_name=)"
        )
