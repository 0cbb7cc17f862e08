"""Checkpoints of a training run: resume from one, write one per epoch, keep the best model.

A checkpoint (``run.ckpt.npz``) holds the weights, the optimiser state, the epoch, the host
RNG state of the batch order and a JSON ``state`` (the configuration, the history and the
early-stopping counters): resuming from it continues the run bit for bit.  Beside it,
``run.ckpt.npz.best.npz`` is the model of the best validation epoch so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..nn.network import Network
from ..nn.optimizers import Optimizer
from ..persistence import load_checkpoint, load_network, save_checkpoint, save_network
from .config import TrainingConfig
from .early_stopping import EarlyStopping
from .history import History

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Checkpoints", "check_resumed_config"]


class Checkpoints:
    """The checkpoint file of a run and its best-model file; does nothing without a path.

    Parameters
    ----------
    path : path or None
        The checkpoint file, written atomically after every epoch.
    network : Network
    optimizer : Optimizer
    config : TrainingConfig
        The run's configuration; a resumed checkpoint must agree with it (but for
        ``epochs``).
    rng : numpy.random.Generator
        The host generator of the batch order and shifts.
    stopping : EarlyStopping
        Its counters are saved and resumed with the run.
    """

    def __init__(
        self,
        path: str | Path | None,
        network: Network,
        optimizer: Optimizer,
        config: TrainingConfig,
        rng: np.random.Generator,
        stopping: EarlyStopping,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.best_path = self.path.with_name(self.path.name + ".best.npz") if self.path else None
        self.network = network
        self.optimizer = optimizer
        self.config = config
        self.rng = rng
        self.stopping = stopping

    def resume(self) -> tuple[int, History]:
        """Restore the run from the checkpoint, when it exists.

        Loads the network, the optimiser, the generator and the early-stopping counters in
        place.

        Returns
        -------
        start_epoch : int
            The epochs already run (0 without a checkpoint file).
        history : History
            Their records.

        Raises
        ------
        ValueError
            The checkpoint was written with another configuration (only ``epochs`` may
            change); :class:`~anyarray_nn.persistence.ModelFileError` for a bad file.
        """
        if self.path is None or not self.path.exists():
            return 0, History()
        meta = load_checkpoint(self.path, self.network, self.optimizer)
        check_resumed_config(self.path, meta["state"].get("config", {}), self.config)
        self.rng.bit_generator.state = meta["rng_state"]
        state = meta["state"]
        history = History.from_dict(state["history"])
        best = None
        if self.best_path is not None and self.best_path.exists():
            best = load_network(self.best_path, self.network.backend).parameters
        self.stopping.load_state(state, best)
        return int(meta["epoch"]), history

    def save(self, epoch: int, history: History) -> None:
        """Write the checkpoint after (1-based) ``epoch``, whose record ends ``history``."""
        if self.path is None:
            return
        state: dict[str, Any] = {
            "config": self.config.to_dict(),
            "history": history.to_dict(),
            **self.stopping.state(),
        }
        save_checkpoint(
            self.path,
            self.network,
            self.optimizer,
            epoch=epoch,
            rng_state=self.rng.bit_generator.state,
            state=state,
        )

    def save_best(self) -> None:
        """Write the network as the best model so far."""
        if self.best_path is not None:
            save_network(self.network, self.best_path)


def check_resumed_config(path: Path, saved: dict[str, Any], config: TrainingConfig) -> None:
    """Resuming continues the same run: only ``epochs`` may change (to train longer).

    Raises
    ------
    ValueError
        Another setting differs from the checkpoint's; the message lists them.
    """
    current = config.to_dict()
    changed = sorted(
        key for key in current if key != "epochs" and key in saved and saved[key] != current[key]
    )
    if changed:
        details = ", ".join(f"{k} {saved[k]!r} -> {current[k]!r}" for k in changed)
        raise ValueError(
            f"{path}: cannot resume with a different training configuration ({details}); "
            "use the checkpoint's settings or start a new run"
        )
