"""The one atomic writer and the one JSON writer (:mod:`anyarray_nn.files`)."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.files import atomic as atomic_module
from anyarray_nn.files import atomic_write, json_ready, write_json

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------------------
# atomic_write
# --------------------------------------------------------------------------------------


def test_writes_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    with atomic_write(path) as file:
        file.write(b"first")
    with atomic_write(path) as file:
        file.write(b"second")
    assert path.read_bytes() == b"second"
    assert _names(tmp_path) == ["out.bin"]


def test_text_mode_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    with atomic_write(path, "w", encoding="utf-8") as file:
        file.write("é\n")
    assert path.read_bytes() == "é\n".encode()


def test_temporary_is_in_the_target_folder_and_readable_before_the_rename(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.bin"
    with atomic_write(path) as file:
        tmp = Path(file.name)
        assert tmp.parent == tmp_path and tmp != path
        assert tmp.name.startswith(".out.bin.") and tmp.name.endswith(".tmp")
        file.write(b"data")
        file.flush()
        assert tmp.read_bytes() == b"data"
        assert not path.exists()
    assert not tmp.exists()


def test_each_write_draws_a_new_temporary_name(tmp_path: Path) -> None:
    seen = set()
    for _ in range(5):
        with atomic_write(tmp_path / "x") as file:
            seen.add(file.name)
    assert len(seen) == 5


def test_normal_permissions(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    with atomic_write(tmp_path / "out") as file:
        file.write(b"x")
    mode = stat.S_IMODE((tmp_path / "out").stat().st_mode)
    assert mode == stat.S_IMODE(reference.stat().st_mode)


def test_rejects_modes_that_do_not_write_a_new_file(tmp_path: Path) -> None:
    for mode in ("a", "r+b", "rb", "xb"):
        with pytest.raises(ValueError, match="mode"), atomic_write(tmp_path / "x", mode):
            pass
    assert _names(tmp_path) == []


def _plausible_temporary_names(name: str) -> list[str]:
    """Names an attacker might guess: the fixed ones of naive writers, and ours."""
    return [f"{name}.tmp", f".{name}.tmp", f"{name}~", f".{name}.000000000000.tmp"]


@needs_symlinks
def test_planted_symlinks_are_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    folder = tmp_path / "out"
    folder.mkdir()
    planted = _plausible_temporary_names("result.json")
    for name in planted:
        (folder / name).symlink_to(victim)
    # The random name generator first returns every planted name (as if an attacker had
    # guessed it), then a free one: each planted link must be skipped, not opened.
    guesses = iter([folder / name for name in planted])
    real = atomic_module._temporary_name
    monkeypatch.setattr(
        atomic_module, "_temporary_name", lambda path: next(guesses, None) or real(path)
    )
    with atomic_write(folder / "result.json") as file:
        file.write(b"new")
    assert victim.read_bytes() == b"precious"
    assert (folder / "result.json").read_bytes() == b"new"
    assert not (folder / "result.json").is_symlink()
    for name in planted:
        assert (folder / name).is_symlink()  # untouched
    assert _names(folder) == sorted([*planted, "result.json"])


@needs_symlinks
def test_gives_up_when_every_name_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    trap = tmp_path / ".out.trap.tmp"
    trap.symlink_to(victim)
    monkeypatch.setattr(atomic_module, "_temporary_name", lambda path: trap)
    with pytest.raises(FileExistsError, match="temporary name"), atomic_write(tmp_path / "out"):
        pass
    assert victim.read_bytes() == b"precious"
    assert not (tmp_path / "out").exists()


@needs_symlinks
def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "out"
    link.symlink_to(victim)
    with atomic_write(link) as file:
        file.write(b"new")
    assert victim.read_bytes() == b"precious"
    assert not link.is_symlink() and link.read_bytes() == b"new"


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_exception_in_the_body_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, error: BaseException
) -> None:
    path = tmp_path / "out"
    path.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_write(path) as file:
        file.write(b"half of the new")
        raise error
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["out"]


def test_failed_rename_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out"
    path.write_bytes(b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"), atomic_write(path) as file:
        file.write(b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["out"]


def test_failed_fsync_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out"
    path.write_bytes(b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="no space"), atomic_write(path) as file:
        file.write(b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert _names(tmp_path) == ["out"]


def test_missing_folder_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "no" / "out"):
        pass
    assert _names(tmp_path) == []


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------


def _strict_load(path: Path) -> object:
    def reject(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def test_non_finite_floats_become_null(tmp_path: Path) -> None:
    data = {
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "np": np.float32("nan"),
        "list": [1.5, np.float64("inf"), (np.nan, 2)],
        "array": np.array([1.0, np.nan]),
        "nested": {"deep": [{"x": -np.inf}]},
    }
    path = write_json(tmp_path / "out.json", data)
    assert _strict_load(path) == {
        "nan": None,
        "inf": None,
        "-inf": None,
        "np": None,
        "list": [1.5, None, [None, 2]],
        "array": [1.0, None],
        "nested": {"deep": [{"x": None}]},
    }


def test_output_is_strict_json(tmp_path: Path) -> None:
    data = {
        "int": np.int64(3),
        "bool": np.bool_(True),
        "float": np.float32(0.5),
        "path": tmp_path / "p",
        "tuple": (1, "a"),
        "text": "é",
        1: "key made a string",
        "none": None,
    }
    path = write_json(tmp_path / "out.json", data)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.isascii()
    assert "NaN" not in text and "Infinity" not in text
    assert _strict_load(path) == {
        "int": 3,
        "bool": True,
        "float": 0.5,
        "path": str(tmp_path / "p"),
        "tuple": [1, "a"],
        "text": "é",
        "1": "key made a string",
        "none": None,
    }


def test_json_ready_keeps_order_and_plain_values() -> None:
    data = {"b": 1, "a": [True, None, "x", 2.5]}
    ready = json_ready(data)
    assert ready == data and list(ready) == ["b", "a"]


def test_write_json_creates_folders_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "out.json"
    write_json(path, {"v": 1})
    write_json(path, {"v": 2})
    assert _strict_load(path) == {"v": 2}
    assert _names(path.parent) == ["out.json"]


def test_unserialisable_value_keeps_the_old_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "out.json", {"v": 1})
    with pytest.raises(TypeError):
        write_json(path, {"v": {1, 2}})
    assert _strict_load(path) == {"v": 1}
    assert _names(tmp_path) == ["out.json"]


def test_stale_temporaries_are_removed_on_the_next_write(tmp_path: Path) -> None:
    # Issue 13, finding 10: what a `kill -9` during a save leaves behind.
    import os
    import time

    from anyarray_nn.files import atomic
    from anyarray_nn.files.atomic import STALE_SECONDS

    old = time.time() - STALE_SECONDS - 60
    stale = tmp_path / ".model.npz.0123456789ab.tmp"
    fresh = tmp_path / ".model.npz.ba9876543210.tmp"  # another process may be writing it
    other = tmp_path / ".notes.tmp"  # not one of ours
    for p in (stale, fresh, other):
        p.write_bytes(b"x" * 100)
    target = tmp_path / "victim.txt"
    target.write_text("keep")
    link = tmp_path / ".link.npz.aaaaaaaaaaaa.tmp"
    link.symlink_to(target)
    for p in (stale, other):
        os.utime(p, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)
    atomic._CLEANED.discard(os.path.abspath(tmp_path))
    with atomic_write(tmp_path / "model.npz") as f:
        f.write(b"new")
    assert not stale.exists()
    assert fresh.exists() and other.exists() and link.is_symlink()
    assert target.read_text() == "keep"
