"""Where studies live, and who counts: Optuna storages, trial counts, dead workers.

:func:`open_storage` opens a journal file (the embedded default), a SQLite file or any
SQLAlchemy URL.  :func:`count_trials` counts a study's trials by outcome, and
:func:`fail_interrupted_trials` closes the running trials of workers that died, which is
what keeps ``n_trials`` exact across workers and crashes (see :mod:`anyarray_nn.tuning.search`).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

__all__ = [
    "DEFAULT_STORAGE",
    "StudyCounts",
    "TuningError",
    "check_journal",
    "count_trials",
    "describe_storage",
    "fail_interrupted_trials",
    "heartbeat_enabled",
    "import_optuna",
    "is_storage_error",
    "open_storage",
    "storage_failure",
    "takes_place",
    "worker_identity",
]

logger = logging.getLogger(__name__)

#: Embedded storage used when none is given: a journal file in the current folder.
DEFAULT_STORAGE = "anyarray-nn-tune.journal"
#: Heartbeat of trials in SQLAlchemy storages (seconds) and the silence after which a
#: running trial of another machine is declared interrupted.
HEARTBEAT_INTERVAL = 10
HEARTBEAT_GRACE = 60


class TuningError(RuntimeError):
    """A hyper-parameter search cannot run (missing extra, bad storage, nothing completed)."""


def import_optuna() -> ModuleType:
    """The ``optuna`` module, or a :class:`TuningError` saying how to install it."""
    try:
        return importlib.import_module("optuna")
    except ImportError as exc:
        raise TuningError(
            "hyper-parameter tuning needs Optuna: pip install 'anyarray-nn[tune]'"
        ) from exc


def _is_url(storage: str) -> bool:
    return "://" in storage


def describe_storage(storage: str) -> str:
    """``storage`` for printing, with any password hidden."""
    if not _is_url(storage):
        return storage
    try:
        from sqlalchemy.engine import make_url

        return make_url(storage).render_as_string(hide_password=True)
    except Exception:
        return storage.split("://", 1)[0] + "://..."


#: Errors of workers that create the tables of a new database at the same time.
_CREATION_RACE = ("constraint", "already exists", "duplicate", "locked")


class _FlockLock:
    """Lock of a journal file that the OS releases when its process dies (``flock``).

    Optuna's default journal lock is a symbolic link that a killed worker leaves behind;
    the others then wait 30 s before they break it.  A worker killed while it writes (it
    writes after every epoch) must not stall the study.
    """

    def __init__(self, journal: str) -> None:
        self._path = journal + ".flock"
        self._fd: int | None = None

    @staticmethod
    def usable() -> bool:
        try:
            importlib.import_module("fcntl")
        except ImportError:  # Windows: Optuna's own lock
            return False
        return True

    def acquire(self) -> bool:
        import fcntl

        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        import fcntl

        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def open_storage(storage: str | os.PathLike[str] | None = None, *, heartbeat: bool = True) -> Any:
    """Open an Optuna storage.

    Parameters
    ----------
    storage : str or path, optional
        A SQLAlchemy URL (``sqlite:///study.db``, ``postgresql+psycopg2://user@host/db``),
        a ``.db``/``.sqlite``/``.sqlite3`` file (SQLite), or any other file name (an Optuna
        journal file, safe for several processes on one machine).  Default:
        :data:`DEFAULT_STORAGE`.
    heartbeat : bool
        SQLAlchemy storages: record a heartbeat of running trials, so that the trial of a
        worker that died on another machine is noticed and replaced.

    Raises
    ------
    TuningError
        The storage cannot be opened (the message says why).
    """
    optuna = import_optuna()
    text = os.fspath(storage) if storage is not None else DEFAULT_STORAGE
    if not _is_url(text) and Path(text).suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        text = "sqlite:///" + str(Path(text).resolve())
    if not _is_url(text):
        path = Path(text)
        if path.is_dir():
            raise TuningError(f"storage {text!r} is a folder; give a file name")
        if not path.parent.is_dir():
            raise TuningError(f"storage {text!r}: folder {str(path.parent)!r} does not exist")
        from optuna.storages.journal import JournalFileBackend

        lock = _FlockLock(str(path)) if _FlockLock.usable() else None
        check_journal(path, lock)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    kwargs: dict[str, Any] = {}
    if text.startswith("sqlite"):
        # Several writers take turns; wait for the lock rather than fail.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    if heartbeat:
        kwargs.update(heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=HEARTBEAT_GRACE)
    try:
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(text, **kwargs)
            except Exception as exc:
                # Workers started together race to create the tables: try again.
                text_lower = repr(exc).lower()
                if attempt == 4 or not any(m in text_lower for m in _CREATION_RACE):
                    raise
                time.sleep(0.2 + 0.3 * attempt)
        raise AssertionError("unreachable")
    except ImportError as exc:
        raise TuningError(
            f"storage {describe_storage(text)}: a driver is missing ({exc}); "
            "pip install 'anyarray-nn[tune]'"
        ) from exc
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TuningError(f"cannot open storage {describe_storage(text)}: {reason}") from exc


def check_journal(path: Path, lock: Any = None) -> bool:
    """Repair a journal whose last record a crash cut short; refuse a damaged one.

    A writer killed (or a disk that filled up) while appending leaves a last line without
    its newline; Optuna would append the next record to it and every later read would fail.
    That partial record is cut off (the complete ones before it are kept) under the
    journal's lock.  A damaged complete line is not guessed at: :class:`TuningError` names
    the file, the line and how to recover.

    Returns
    -------
    bool
        Whether a partial last record was removed.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return False
    if lock is not None:
        lock.acquire()
    try:
        with open(path, "rb+") as fh:
            data = fh.read()
            cut = data.rfind(b"\n") + 1
            repaired = cut < len(data)
            if repaired:
                fh.truncate(cut)
                fh.flush()
                os.fsync(fh.fileno())
    finally:
        if lock is not None:
            lock.release()
    if repaired:
        logger.warning(
            "%s: removed a partial last record (%d bytes) left by an interrupted write; "
            "the study resumes from the records before it",
            path,
            len(data) - cut,
        )
    _check_lines(path, data[:cut])
    return repaired


def _check_lines(path: Path, data: bytes) -> None:
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "op_code" not in record:
                raise ValueError("not an Optuna journal record")
        except (ValueError, RecursionError) as exc:
            raise TuningError(
                f"journal {path} is damaged at line {number} ({type(exc).__name__}); the "
                f"{number - 1} records before it are intact: keep them with "
                f"`head -n {number - 1} {path} > repaired.journal` and pass --storage "
                f"repaired.journal, or move {path} away to start a new study"
            ) from None


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from Optuna's storage or the database driver."""
    module = type(exc).__module__.split(".")[0]
    return module in ("optuna", "sqlalchemy", "sqlite3") or isinstance(
        exc, (AssertionError, KeyError, json.JSONDecodeError)
    )


def storage_failure(storage: str | os.PathLike[str] | None, exc: BaseException) -> str:
    """The one-line message of a storage failure, with the storage and what to do."""
    text = os.fspath(storage) if storage is not None else DEFAULT_STORAGE
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"storage {describe_storage(text)} cannot be used ({type(exc).__name__}: {reason}); "
        "check that it is writable and not damaged, or give another --storage"
    )


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux), to tell a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def worker_identity() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _process_start(pid)}


def _worker_is_dead(worker: Any) -> bool:
    """True only when ``worker`` ran on this machine and its process is gone."""
    if not isinstance(worker, dict) or worker.get("host") != socket.gethostname():
        return False
    pid = int(worker.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    start = worker.get("start")
    return start is not None and _process_start(pid) not in (None, start)


def fail_interrupted_trials(study: optuna.Study) -> list[int]:
    """Close the running trials whose worker died; return their numbers."""
    optuna = import_optuna()
    state = optuna.trial.TrialState
    closed = []
    for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        if not _worker_is_dead(t.user_attrs.get("worker")):
            continue
        storage = study._storage
        try:
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            storage.set_trial_user_attr(
                t._trial_id,
                "fail_reason",
                f"interrupted: worker process {t.user_attrs['worker'].get('pid')} stopped",
            )
            storage.set_trial_state_values(t._trial_id, state.FAIL)
            closed.append(t.number)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            pass  # another worker closed it first
    return closed


def _counts_as_failed(t: Any) -> bool:
    attrs = t.user_attrs
    return (
        bool(attrs.get("fail_reason")) and not attrs.get("interrupted") and not attrs.get("surplus")
    )


def takes_place(t: Any) -> bool:
    """Whether trial ``t`` takes one of the study's ``n_trials`` places."""
    name = t.state.name
    if name in ("COMPLETE", "PRUNED", "RUNNING", "WAITING"):
        return True
    return name == "FAIL" and _counts_as_failed(t)


@dataclass(frozen=True)
class StudyCounts:
    """Trials of a whole study by outcome."""

    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int
    interrupted: int
    surplus: int

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.failed

    @property
    def taken(self) -> int:
        """Places of ``n_trials`` taken: finished, running or waiting."""
        return self.finished + self.running + self.waiting


def count_trials(study: optuna.Study) -> StudyCounts:
    """Count the trials of ``study`` (all workers) by outcome."""
    values = dict.fromkeys(
        ("complete", "pruned", "failed", "running", "waiting", "interrupted", "surplus"), 0
    )
    for t in study.get_trials(deepcopy=False):
        name = t.state.name
        if name == "FAIL":
            if t.user_attrs.get("surplus"):
                values["surplus"] += 1
            elif _counts_as_failed(t):
                values["failed"] += 1
            else:
                values["interrupted"] += 1
        elif name.lower() in values:
            values[name.lower()] += 1
    return StudyCounts(**values)


def heartbeat_enabled(study: optuna.Study) -> bool:
    """Whether the storage of ``study`` records heartbeats of running trials."""
    interval = getattr(study._storage, "get_heartbeat_interval", None)
    return callable(interval) and interval() is not None
