"""Checks at the network's public boundary: every error says how to fix the input.

The math behind them (:mod:`anyarray_nn.nn.network`) trusts its arguments; these functions
run once per public call, never inside the layer loop.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import array_api_compat

from .initializers import BIAS_INITS, INITS, bias_default

if TYPE_CHECKING:
    from .network import Network

__all__ = [
    "check_decay",
    "check_init",
    "check_input",
    "check_shapes",
    "check_sizes",
    "check_targets",
    "is_host_data",
]


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Layer sizes as a tuple of positive ints, input first.

    Raises
    ------
    TypeError, ValueError
        Not a sequence of at least two positive integers.
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of layer sizes, not {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output layer, got {list(sizes)}")
    checked = []
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"layer size {i} must be an integer, not {n!r}")
        if n < 1:
            raise ValueError(f"layer size {i} must be at least 1, got {n}")
        checked.append(int(n))
    return tuple(checked)


def check_decay(weight_decay: float) -> float:
    """The L2 coefficient as a Python float >= 0 (``ValueError`` otherwise)."""
    weight_decay = float(weight_decay)
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, not {weight_decay!r}")
    return weight_decay


def is_host_data(X: Any) -> bool:
    """True for host data that ``numpy.asarray`` takes without a device copy."""
    return not hasattr(X, "__array_namespace__") or type(X).__module__.startswith("numpy")


def _same_namespace(net: Network, xp: Any) -> bool:
    """Whether ``xp`` (an array's namespace) is the network's.

    A wrapper namespace (one that only changes how arrays are created, as the tests'
    read-only NumPy does) computes on arrays that report the namespace it wraps: the
    network's own weights tell which that is. Looked up only on a mismatch.
    """
    return xp is net.xp or xp is array_api_compat.array_namespace(net.weights[0])


def check_input(net: Network, X: Any, name: str = "X") -> None:
    """Raise unless ``X`` is a (batch, sizes[0]) array of ``net``'s namespace, device, dtype.

    Raises
    ------
    TypeError, ValueError
        The message says how to convert the input (``network.asarray``).
    """
    try:
        xp = array_api_compat.array_namespace(X)
    except TypeError as exc:
        raise TypeError(
            f"{name} must be an array of the network's backend ({net.backend.name}), not "
            f"{type(X).__name__}; convert it with network.asarray({name})"
        ) from exc
    if not _same_namespace(net, xp):
        raise TypeError(
            f"{name} is an array of {xp.__name__}, but the network runs on "
            f"{net.backend.name}; convert it with network.asarray({name})"
        )
    if array_api_compat.device(X) != net.device:
        raise ValueError(
            f"{name} is on device {array_api_compat.device(X)!r} but the network is on "
            f"{net.device!r}; move it with network.asarray({name})"
        )
    if X.dtype != net.dtype and not net.xp.isdtype(X.dtype, "real floating"):
        raise TypeError(
            f"{name} must be floating point ({net.dtype_name}), not {X.dtype}; scale "
            f"integer pixels to [0, 1] first, e.g. network.asarray(images / 255)"
        )
    if X.dtype != net.dtype:
        raise TypeError(
            f"{name} has dtype {X.dtype} but the network computes in {net.dtype_name}; "
            f"convert with network.asarray({name}) or build the network with "
            f"dtype={str(X.dtype).rsplit('.', 1)[-1]!r}"
        )
    if X.ndim != 2 or X.shape[1] != net.sizes[0]:
        raise ValueError(
            f"{name} must have shape (batch, {net.sizes[0]}), got {tuple(X.shape)}"
            + (" (wrong input width)" if X.ndim == 2 else "")
        )


def check_targets(net: Network, X: Any, Y: Any) -> bool:
    """Check the targets ``Y`` of the batch ``X``; True when they are integer labels.

    Labels have shape (m,) and an integer dtype; other targets must have shape
    (m, sizes[-1]) and the network's dtype.

    Raises
    ------
    TypeError, ValueError
        Targets of another backend, dtype or shape.
    """
    try:
        if not _same_namespace(net, array_api_compat.array_namespace(Y)):
            raise TypeError
    except TypeError as exc:
        raise TypeError(
            f"Y must be an array of the network's backend ({net.backend.name}); "
            "convert it with network.asarray(Y)"
        ) from exc
    m, n_out = X.shape[0], net.sizes[-1]
    if Y.ndim == 1 and net.xp.isdtype(Y.dtype, "integral"):
        if Y.shape[0] != m:
            raise ValueError(f"Y has {Y.shape[0]} labels for {m} samples")
        return True
    if Y.dtype != net.dtype:
        raise TypeError(f"Y has dtype {Y.dtype}; use {net.dtype_name} targets or integer labels")
    if tuple(Y.shape) != (m, n_out):
        raise ValueError(f"Y must have shape ({m}, {n_out}), got {tuple(Y.shape)}")
    return False


def check_init(init: str, bias_init: str | None) -> tuple[str, str]:
    """``(init, bias_init)``, the bias default of ``init`` filled in.

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    resolved = bias_default(init) if bias_init is None else bias_init
    if resolved not in BIAS_INITS:
        raise ValueError(f"unknown bias_init {bias_init!r}; choose one of {', '.join(BIAS_INITS)}")
    return init, resolved


def check_shapes(sizes: Sequence[int], weights: Sequence[Any], biases: Sequence[Any]) -> None:
    """Raise ``ValueError`` unless ``weights[l]`` is (sizes[l+1], sizes[l]) and ``biases[l]``
    is (sizes[l+1],) for every layer."""
    n_layers = len(sizes) - 1
    if len(weights) != n_layers or len(biases) != n_layers:
        raise ValueError(
            f"expected {n_layers} weight and bias arrays, got {len(weights)} and {len(biases)}"
        )
    for l, (W, b) in enumerate(zip(weights, biases, strict=True)):
        shape_W = (sizes[l + 1], sizes[l])
        shape_b = (sizes[l + 1],)
        if tuple(W.shape) != shape_W or tuple(b.shape) != shape_b:
            raise ValueError(
                f"layer {l + 1}: expected W {shape_W} and b {shape_b}, got "
                f"{tuple(W.shape)} and {tuple(b.shape)}"
            )
