"""Weight initialisation: the paper's failed first attempt and its fix, plus two modern ones.

All numbers are drawn on the host from a seeded ``numpy.random.Generator`` (through
:mod:`anyarray_nn.backend`) in float64, rounded once to the compute dtype and only then copied
to the device, so one seed gives bit-identical initial weights on every backend.

| name   | weight std                   | note                                                  |
|--------|------------------------------|-------------------------------------------------------|
| normal | ``1``                        | the paper's first network: sigmoids saturate [init]   |
| lecun  | ``n_in^-1/2``                | LeCun et al. 1998, the paper's fix [init]             |
| he     | ``(2 / n_in)^1/2``           | He et al. 2015, for ReLU                              |
| glorot | ``(2 / (n_in + n_out))^1/2`` | Glorot & Bengio 2010                                  |

Biases: as in the paper, ``normal`` and ``lecun`` draw biases from ``N(0, 1)``; ``he`` and
``glorot`` start them at zero.  ``bias_init`` overrides either choice.
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import host_normal

__all__ = ["BIAS_INITS", "INITS", "bias_default", "init_layer", "weight_std"]

INITS = ("normal", "lecun", "he", "glorot")
BIAS_INITS = ("normal", "zeros")


def weight_std(init: str, n_in: int, n_out: int) -> float:
    """Standard deviation of the Gaussian that ``init`` draws a (n_out, n_in) weight from."""
    if init == "normal":
        return 1.0
    if init == "lecun":
        return 1.0 / math.sqrt(n_in)
    if init == "he":
        return math.sqrt(2.0 / n_in)
    if init == "glorot":
        return math.sqrt(2.0 / (n_in + n_out))
    raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")


def bias_default(init: str) -> str:
    """The bias initialisation that goes with ``init`` when none is given."""
    return "normal" if init in ("normal", "lecun") else "zeros"


def init_layer(
    rng: Any, n_in: int, n_out: int, init: str, bias_init: str, dtype: str
) -> tuple[Any, Any]:
    """Host arrays ``(W, b)`` of shapes (n_out, n_in) and (n_out,) for one layer."""
    W = host_normal(rng, (n_out, n_in), weight_std(init, n_in, n_out), dtype)
    if bias_init == "normal":
        b = host_normal(rng, (n_out,), 1.0, dtype)
    elif bias_init == "zeros":
        b = host_normal(rng, (n_out,), 0.0, dtype)
    else:
        raise ValueError(f"unknown bias_init {bias_init!r}; choose one of {', '.join(BIAS_INITS)}")
    return W, b
