"""The math of the essay: activations, costs, initialisation, optimisers and the network.

Nothing here imports an array library: each function receives the namespace ``xp``
resolved once by :mod:`anyarray_nn.backend`.
"""

from .activations import ACTIVATIONS, get_activation
from .costs import get_cost
from .network import Gradients, Network
from .optimizers import SGD, Adam, Momentum, Optimizer, get_optimizer

__all__ = [
    "ACTIVATIONS",
    "SGD",
    "Adam",
    "Gradients",
    "Momentum",
    "Network",
    "Optimizer",
    "get_activation",
    "get_cost",
    "get_optimizer",
]
