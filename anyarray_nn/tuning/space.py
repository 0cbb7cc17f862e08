"""The search space of hyper-parameter tuning: ranges, choices and fixed values.

A :class:`SearchSpace` maps each hyper-parameter (learning rate, weight decay, hidden layers
and units, batch size, optimiser, momentum, activation) to a range, a set of choices or a
fixed value; :func:`build` turns one sampled configuration into a
:class:`~anyarray_nn.experiments.runner.NetworkSpec` and a
:class:`~anyarray_nn.training.loop.TrainingConfig`.  Needs no Optuna until a trial samples it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..experiments import NetworkSpec
from ..training import TrainingConfig

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_SPACE", "Choice", "FloatRange", "IntRange", "SearchSpace", "Spec", "build"]


@dataclass(frozen=True)
class FloatRange:
    """A float drawn from ``[low, high]``, on a log scale when ``log``."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntRange:
    """An integer drawn from ``[low, high]``, on a log scale when ``log``."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of ``choices``; a single choice is a fixed value (not searched)."""

    choices: tuple[Any, ...]


Spec = FloatRange | IntRange | Choice

#: The default search space (SGD with momentum, as in the paper).
DEFAULT_SPACE: dict[str, Spec] = {
    "learning_rate": FloatRange(1e-3, 0.5, log=True),
    "weight_decay": FloatRange(1e-6, 1e-2, log=True),
    "hidden_layers": IntRange(1, 2),
    "hidden_units": IntRange(32, 512, log=True),
    "batch_size": IntRange(16, 256, log=True),
    "optimizer": Choice(("momentum",)),
    "momentum": FloatRange(0.5, 0.99),
    "activation": Choice(("relu", "tanh", "sigmoid")),
}
_OPTIMIZERS = ("sgd", "momentum", "adam")
_ACTIVATIONS = ("relu", "tanh", "sigmoid")


def _check_spec(name: str, spec: Spec) -> None:
    if isinstance(spec, (FloatRange, IntRange)):
        if not (math.isfinite(spec.low) and math.isfinite(spec.high) and spec.low < spec.high):
            raise ValueError(f"{name}: the range needs low < high, got {spec.low}:{spec.high}")
        if spec.log and spec.low <= 0:
            raise ValueError(f"{name}: a log-scale range needs low > 0, got {spec.low}")
    elif not spec.choices:
        raise ValueError(f"{name}: at least one choice is needed")
    values = [spec.low, spec.high] if isinstance(spec, (FloatRange, IntRange)) else spec.choices
    for value in values:
        if name == "activation" and value not in _ACTIVATIONS:
            raise ValueError(
                f"activation: unknown {value!r}; choose from {', '.join(_ACTIVATIONS)}"
            )
        if name == "optimizer" and value not in _OPTIMIZERS:
            raise ValueError(f"optimizer {value!r}: choose from {', '.join(_OPTIMIZERS)}")
        if name in ("hidden_layers", "hidden_units", "batch_size") and int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
        if name in ("learning_rate",) and float(value) <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
        if name in ("weight_decay", "momentum") and float(value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


@dataclass(frozen=True)
class SearchSpace:
    """The hyper-parameters searched: :data:`DEFAULT_SPACE` with user overrides.

    Examples
    --------
    >>> space = SearchSpace.from_overrides(["hidden_units=64", "learning_rate=0.01:0.3"])
    >>> space.specs["hidden_units"], space.specs["learning_rate"]
    (Choice(choices=(64,)), FloatRange(low=0.01, high=0.3, log=True))
    """

    specs: Mapping[str, Spec] = field(default_factory=lambda: dict(DEFAULT_SPACE))

    def __post_init__(self) -> None:
        unknown = sorted(set(self.specs) - set(DEFAULT_SPACE))
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter(s) {', '.join(unknown)}; "
                f"choose from {', '.join(DEFAULT_SPACE)}"
            )
        specs = {**DEFAULT_SPACE, **self.specs}
        for name, spec in specs.items():
            _check_spec(name, spec)
        object.__setattr__(self, "specs", specs)

    def with_overrides(self, overrides: Mapping[str, Spec | str]) -> SearchSpace:
        """A copy with some parameters replaced (a spec, or its text as in :meth:`parse`)."""
        specs = dict(self.specs)
        for name, value in overrides.items():
            if name not in DEFAULT_SPACE:
                raise ValueError(
                    f"unknown hyper-parameter {name!r}; choose from {', '.join(DEFAULT_SPACE)}"
                )
            specs[name] = self.parse(name, value) if isinstance(value, str) else value
        return SearchSpace(specs)

    @classmethod
    def from_overrides(cls, items: Sequence[str]) -> SearchSpace:
        """Build from ``NAME=SPEC`` strings (the command line's ``--param``)."""
        overrides: dict[str, str] = {}
        for item in items:
            name, sep, text = item.partition("=")
            if not sep or not name.strip() or not text.strip():
                raise ValueError(
                    f"--param {item!r}: expected NAME=VALUE, NAME=LOW:HIGH or NAME=A,B"
                )
            overrides[name.strip()] = text.strip()
        return cls().with_overrides(overrides)

    @staticmethod
    def parse(name: str, text: str) -> Spec:
        """``"V"`` (fixed), ``"LOW:HIGH"`` (range, log scale as the default) or ``"A,B,C"``."""
        default = DEFAULT_SPACE[name]
        kind: Callable[[str], Any]
        if isinstance(default, FloatRange):
            kind = float
        elif isinstance(default, IntRange):
            kind = int
        else:
            kind = str
        try:
            if ":" in text:
                if kind is str:
                    raise ValueError(f"{name} takes choices A,B,..., not a range")
                low, high = (kind(part) for part in text.split(":", 1))
                log = getattr(default, "log", False)
                return FloatRange(low, high, log) if kind is float else IntRange(low, high, log)
            return Choice(tuple(kind(part.strip()) for part in text.split(",")))
        except ValueError as exc:
            raise ValueError(f"--param {name}={text}: {exc}") from exc

    def sample(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Draw one configuration (fixed values included) from ``trial``."""
        config: dict[str, Any] = {}
        for name, spec in self.specs.items():
            if name == "momentum" and config["optimizer"] != "momentum":
                continue
            config[name] = _suggest(trial, name, spec)
        return config


def _suggest(trial: optuna.trial.BaseTrial, name: str, spec: Spec) -> Any:
    if isinstance(spec, FloatRange):
        return float(trial.suggest_float(name, float(spec.low), float(spec.high), log=spec.log))
    if isinstance(spec, IntRange):
        return int(trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log))
    if len(spec.choices) == 1:
        return spec.choices[0]
    return trial.suggest_categorical(name, list(spec.choices))


def build(
    config: Mapping[str, Any], n_inputs: int, n_classes: int, epochs: int, seed: int
) -> tuple[NetworkSpec, TrainingConfig]:
    """The network and training configuration of a sampled hyper-parameter ``config``."""
    hidden = [int(config["hidden_units"])] * int(config["hidden_layers"])
    activation = str(config["activation"])
    spec = NetworkSpec(
        sizes=(n_inputs, *hidden, n_classes),
        activation=activation,
        init="he" if activation == "relu" else "lecun",
        seed=seed,
    )
    training = TrainingConfig(
        epochs=epochs,
        batch_size=int(config["batch_size"]),
        optimizer=str(config["optimizer"]),
        learning_rate=float(config["learning_rate"]),
        momentum=float(config.get("momentum", 0.9)),
        weight_decay=float(config["weight_decay"]),
        seed=seed,
    )
    return spec, training
