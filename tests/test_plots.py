"""Figures are saved atomically, in the format their suffix names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from anyarray_nn.plots import plot_confusion_matrix


def test_saves_png_and_appends_the_suffix_like_matplotlib(tmp_path: Path) -> None:
    confusion = np.eye(3, dtype=np.int64) * 5
    plot_confusion_matrix(confusion, tmp_path / "a.png")
    plot_confusion_matrix(confusion, tmp_path / "sub" / "b")
    assert (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "sub" / "b.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["b.png"]


def test_other_formats_by_suffix(tmp_path: Path) -> None:
    plot_confusion_matrix(np.eye(2, dtype=np.int64), tmp_path / "c.svg")
    assert b"<svg" in (tmp_path / "c.svg").read_bytes()


def test_failed_save_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "c.png"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match="nosuchformat"):
        plot_confusion_matrix(np.eye(2, dtype=np.int64), tmp_path / "c.nosuchformat")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png"]
