"""Tuning storages after crashes and mistakes (issue 13, findings 5, 7 and 11): a journal
whose last record a crash cut short resumes; a damaged one or a read-only database is
reported with its path and the way out; a study refuses to be joined with other settings."""

from __future__ import annotations

from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from anyarray_nn.tuning import SearchSpace, TuningError, open_storage, tune  # noqa: E402
from tests.test_tuning import synthetic  # noqa: E402


def _study(storage: str, n: int) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        study_name="s", storage=open_storage(storage, heartbeat=False), load_if_exists=True
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
    return study


def test_half_written_last_record_is_recovered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "j.journal"
    _study(str(journal), 3)
    with open(journal, "ab") as fh:  # what a crash in the middle of an append leaves
        fh.write(b'{"op_code": 4, "worker_id": "x", "trial_id": 3, "par')
    study = _study(str(journal), 1)  # before: "Expecting ',' delimiter" on every later run
    assert len(study.trials) == 4
    assert "removed a partial last record" in caplog.text
    assert journal.read_bytes().endswith(b"\n")


def test_damaged_journal_names_the_file_and_the_way_out(tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    _study(str(journal), 2)
    lines = journal.read_bytes().splitlines(keepends=True)
    lines.insert(3, b'{"op_code": 4, "worker_id"{"op_code": 1}\n')  # a merged half line
    journal.write_bytes(b"".join(lines))
    with pytest.raises(TuningError, match=r"j\.journal is damaged at line 4 .*head -n 3"):
        open_storage(str(journal))


def test_read_only_database_is_one_clear_error(tmp_path: Path) -> None:
    # Before: Optuna's StorageInternalError with a traceback.  SQLite's read-only mode
    # stands for a file without write permission (which root ignores).
    db = tmp_path / "s.db"
    _study(str(db), 1)
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    with pytest.raises(TuningError, match=r"s\.db.*check that it is writable"):
        tune(synthetic(), n_trials=2, epochs=1, storage=read_only, study_name="s", log=None)


def test_joining_a_study_with_other_settings_is_refused(tmp_path: Path) -> None:
    storage = str(tmp_path / "t.journal")
    kwargs = {"sampler": "random", "storage": storage, "retrain": False, "log": None}
    tune(synthetic(), n_trials=1, epochs=1, **kwargs)
    relu = SearchSpace().with_overrides({"activation": "relu"})
    with pytest.raises(TuningError) as info:
        tune(synthetic(n_train=500), n_trials=2, epochs=2, space=relu, **kwargs)
    message = str(info.value)
    for part in ("epochs: 1 -> 2", "train_size: 600 -> 500", "space activation", "--study-name"):
        assert part in message
    # Same settings: resumed.  Another name: a new study.
    assert tune(synthetic(), n_trials=2, epochs=1, **kwargs).counts.finished == 2
    other = tune(synthetic(n_train=500), n_trials=1, epochs=2, study_name="b", **kwargs)
    assert other.counts.finished == 1
