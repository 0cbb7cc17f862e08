"""anyarray_nn: a fully-connected neural network written once against the Array API standard.

The same forward and backward code runs on NumPy (``backend="numpy"``), CuPy
(``backend="cupy"``, CUDA GPUs) and ``array_api_strict`` (for testing).
"""

from .activations import ACTIVATIONS, get_activation
from .backend import Backend, BackendUnavailableError, resolve_backend, to_numpy
from .costs import get_cost
from .network import Gradients, Network
from .optimizers import SGD, Adam, Momentum, Optimizer, get_optimizer

__version__ = "0.1.0"

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
