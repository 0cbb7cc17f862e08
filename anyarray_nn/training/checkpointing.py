"""Checkpoints of a training run: resume from one, write one per epoch, keep the best model.

A checkpoint (``run.ckpt.npz``) holds the weights, the optimiser state, the epoch, the host
RNG state of the batch order and a JSON ``state`` (the configuration, the history and the
early-stopping counters): resuming from it continues the run bit for bit.  Beside it,
``run.ckpt.npz.best.npz`` is the model of the best validation epoch so far.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import to_numpy
from ..nn.network import Network
from ..nn.optimizers import Optimizer
from ..persistence import (
    ModelFileError,
    load_checkpoint,
    load_network,
    save_checkpoint,
    save_network,
)
from .config import TrainingConfig
from .early_stopping import EarlyStopping
from .history import History
from .standardize import Standardization

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Checkpoints", "check_resumed_config", "data_identity"]

#: Arrays of a run's data: training images and labels, and the validation pair or None.
Data = tuple[Any, Any, "tuple[Any, Any] | None"]


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
    data : (images, labels, validation or None), optional
        The run's host data; its :func:`data_identity` is saved, and a resumed run must
        have the same.
    """

    def __init__(
        self,
        path: str | Path | None,
        network: Network,
        optimizer: Optimizer,
        config: TrainingConfig,
        rng: np.random.Generator,
        stopping: EarlyStopping,
        data: Data | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.data = data_identity(*data) if data is not None and path is not None else None
        self.best_path = self.path.with_name(self.path.name + ".best.npz") if self.path else None
        self.network = network
        self.optimizer = optimizer
        self.config = config
        self.rng = rng
        self.stopping = stopping
        #: Set by ``train`` when it standardises features: the best model is saved folded.
        self.standardization: Standardization | None = None

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
            The checkpoint was written with another configuration or other data (only
            ``epochs`` may change, and not below the checkpoint's epoch); the message names
            each difference.  :class:`~anyarray_nn.persistence.ModelFileError` for a bad
            file.
        """
        if self.path is None or not self.path.exists():
            return 0, History()
        meta = load_checkpoint(self.path, self.network, self.optimizer)
        state, epoch = meta["state"], int(meta["epoch"])
        check_resumed_config(
            self.path, state.get("config", {}), self.config, epoch, state.get("data"), self.data
        )
        try:
            self.rng.bit_generator.state = meta["rng_state"]
            history = History.from_dict(state["history"])
            best = None
            if self.best_path is not None and self.best_path.exists():
                best = load_network(self.best_path, self.network.backend).parameters
            self.stopping.load_state(state, best)
        except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ModelFileError(f"{self.path}: invalid checkpoint state ({what})") from exc
        return epoch, history

    def save(self, epoch: int, history: History) -> None:
        """Write the checkpoint after (1-based) ``epoch``, whose record ends ``history``."""
        if self.path is None:
            return
        state: dict[str, Any] = {
            "config": self.config.to_dict(),
            **({"data": self.data} if self.data is not None else {}),
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
            network = self.network
            if self.standardization is not None:  # a file that reads raw features
                network = self.standardization.folded_copy(network)
            save_network(network, self.best_path)


def data_identity(images: Any, labels: Any, validation: tuple[Any, Any] | None) -> dict[str, Any]:
    """The sizes and a SHA-256 of a run's data (host arrays), to recognise it on resume."""
    sha = hashlib.sha256()
    pairs = [(images, labels), validation] if validation is not None else [(images, labels)]
    for pair in pairs:
        for a in pair:
            sha.update(str(a.shape).encode())
            sha.update(to_numpy(a).tobytes())  # C order, whatever the layout
    return {
        "train_size": int(labels.shape[0]),
        "validation_size": 0 if validation is None else int(validation[1].shape[0]),
        "sha256": sha.hexdigest()[:16],
    }


def check_resumed_config(
    path: Path,
    saved: dict[str, Any],
    config: TrainingConfig,
    epoch: int = 0,
    saved_data: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Resuming continues the same run: only ``epochs`` may change (to train longer).

    Refused: any other setting of ``config``, ``epochs`` below the checkpoint's ``epoch``,
    and other data (sizes or content; checked when both identities are known).

    Raises
    ------
    ValueError
        The run would differ from an uninterrupted one; the message lists each difference.
    """
    current = config.to_dict()
    changes = [
        f"{k} {saved[k]!r} -> {current[k]!r}"
        for k in sorted(current)
        if k != "epochs" and k in saved and saved[k] != current[k]
    ]
    if isinstance(saved_data, dict) and data is not None:
        sizes = [
            f"{k} {saved_data.get(k)!r} -> {data[k]!r}"
            for k in ("train_size", "validation_size")
            if saved_data.get(k) != data[k]
        ]
        if not sizes and saved_data.get("sha256") != data["sha256"]:
            sizes.append("the data (same sizes, other images or labels)")
        changes += sizes
    if config.epochs < epoch:
        changes.append(f"epochs {config.epochs} is below the {epoch} already run")
    if changes:
        raise ValueError(
            f"{path}: cannot resume: the run would differ from an uninterrupted one "
            f"({'; '.join(changes)}); use the checkpoint's settings and data (epochs >= "
            f"{epoch}) or start a new run with another --checkpoint"
        )
