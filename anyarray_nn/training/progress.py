"""The progress bar of a training run: one tqdm bar over all remaining batches.

:class:`ProgressBar` does nothing at all (and never imports tqdm) when it is disabled, so the
loop calls it unconditionally.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from .history import EpochRecord

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm bar counting batches, with the last epoch's numbers as its postfix.

    Parameters
    ----------
    show : bool or None
        Show the bar; ``None``: only when stderr is a terminal.
    total : int
        Batches still to run (remaining epochs times batches per epoch).

    Notes
    -----
    Use it as a context manager: the bar is closed when training ends, or fails.
    """

    def __init__(self, show: bool | None, total: int) -> None:
        enabled = sys.stderr.isatty() if show is None else bool(show)
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm  # only when shown: tqdm's import is not free

            self._bar = tqdm(
                total=total, unit="batch", desc="training", leave=False, dynamic_ncols=True
            )

    @property
    def enabled(self) -> bool:
        """Whether a bar is shown."""
        return self._bar is not None

    def update(self, batches: int = 1) -> None:
        """Count ``batches`` more batches."""
        if self._bar is not None:
            self._bar.update(batches)

    def epoch_done(self, record: EpochRecord) -> None:
        """Show the epoch's cost and accuracies beside the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(postfix(record))

    def close(self) -> None:
        """Remove the bar (it is not left on the terminal)."""
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def postfix(record: EpochRecord) -> str:
    """The bar's postfix for ``record``: epoch, training cost and accuracies."""
    text = f"epoch {record.epoch} cost {record.train_cost:.4f} acc {record.train_accuracy:.4f}"
    if record.validation_accuracy is not None:
        text += f" val {record.validation_accuracy:.4f}"
    return text
