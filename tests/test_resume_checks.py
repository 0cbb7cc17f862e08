"""Resuming refuses anything that would make the result differ from an uninterrupted run
(issue 13, finding 6), and a crafted checkpoint state is a ModelFileError (finding 7)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.persistence import ModelFileError
from anyarray_nn.training import train
from tests.test_training import _digits, _net


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    images, labels = _digits(64)
    path = tmp_path / "c.npz"
    train(_net(), images, labels, epochs=2, checkpoint=path, progress=False)
    return path


def _resume(path: Path, images: np.ndarray, labels: np.ndarray, **kwargs: object) -> object:
    return train(_net(), images, labels, checkpoint=path, resume=True, progress=False, **kwargs)


def test_other_train_size_is_refused(checkpoint: Path) -> None:
    images, labels = _digits(80)
    with pytest.raises(ValueError, match="train_size 64 -> 80"):
        _resume(checkpoint, images, labels, epochs=3)


def test_other_data_of_the_same_size_is_refused(checkpoint: Path) -> None:
    images, labels = _digits(64, seed=5)
    with pytest.raises(ValueError, match="same sizes, other images or labels"):
        _resume(checkpoint, images, labels, epochs=3)


def test_validation_size_is_checked(checkpoint: Path) -> None:
    images, labels = _digits(64)
    with pytest.raises(ValueError, match="validation_size 0 -> 8"):
        _resume(checkpoint, images, labels, epochs=3, validation=(images[:8], labels[:8]))


def test_epochs_below_the_checkpoint_are_refused(checkpoint: Path) -> None:
    images, labels = _digits(64)
    with pytest.raises(ValueError, match="epochs 1 is below the 2 already run"):
        _resume(checkpoint, images, labels, epochs=1)
    history = _resume(checkpoint, images, labels, epochs=2)  # nothing left to run: fine
    assert [r.epoch for r in history.records] == [1, 2]


def test_every_difference_is_named(checkpoint: Path) -> None:
    images, labels = _digits(80)
    with pytest.raises(ValueError) as info:
        _resume(checkpoint, images, labels, epochs=1, batch_size=7)
    for part in ("batch_size", "train_size 64 -> 80", "epochs 1 is below"):
        assert part in str(info.value)


@pytest.mark.parametrize(
    "state_change",
    [
        lambda s: s.pop("history"),
        lambda s: s.__setitem__("history", [1, 2]),
        lambda s: s.__setitem__("history", {"epochs": [{"nonsense": 1}]}),
    ],
)
def test_crafted_state_is_a_model_file_error(checkpoint: Path, state_change: object) -> None:
    with zipfile.ZipFile(checkpoint) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    from anyarray_nn.persistence import read_metadata
    from tests.test_hostile import _npy

    meta = read_metadata(checkpoint)
    state_change(meta["state"])  # type: ignore[operator]
    entries["metadata.npy"] = _npy(np.array(json.dumps(meta)))
    with zipfile.ZipFile(checkpoint, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    images, labels = _digits(64)
    with pytest.raises(ModelFileError, match="invalid checkpoint state"):
        _resume(checkpoint, images, labels, epochs=3)
