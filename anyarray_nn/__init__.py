"""anyarray_nn: a fully-connected neural network written once against the Array API standard.

The same forward and backward code runs on NumPy (``backend="numpy"``), CuPy
(``backend="cupy"``, CUDA GPUs) and ``array_api_strict`` (for testing).
"""

from ._version import __version__
from .backend import Backend, BackendUnavailableError, resolve_backend, to_numpy
from .nn.activations import ACTIVATIONS, get_activation
from .nn.costs import get_cost
from .nn.network import Gradients, Network
from .nn.optimizers import SGD, Adam, Momentum, Optimizer, get_optimizer

__all__ = [
    "ACTIVATIONS",
    "SGD",
    "Adam",
    "Backend",
    "BackendUnavailableError",
    "Gradients",
    "Momentum",
    "Network",
    "Optimizer",
    "__version__",
    "get_activation",
    "get_cost",
    "get_optimizer",
    "resolve_backend",
    "to_numpy",
]
