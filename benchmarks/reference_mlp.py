"""The plain NumPy reference of the CPU benchmark: a minimal matrix-based MLP.

What a careful person writes in NumPy without any abstraction: ReLU hidden layers, a
softmax output with the cross-entropy cost (log-sum-exp), matrix back-propagation, and plain
SGD with in-place updates.  :mod:`train_speed` compares ``anyarray_nn`` against it with the
same initial weights and the same batches, so the ratio of their epoch times is the price of
writing the math once against the Array API standard.

For a mini-batch ``X`` (m, n_0) with integer labels ``y`` (m,) and weights ``W[l]``
(n_{l+1}, n_l):

* forward: ``Z = A W^T + b``, ``A = max(Z, 0)``, output ``P = softmax(Z^L)``;
* output error, already divided by ``m``: ``D = (P - onehot(y)) / m``;
* gradients: ``dW = D^T A_prev``, ``db = sum_rows(D)``,
  ``D_prev = (D W) * (Z_prev > 0)``;
* update: ``W -= lr dW``, ``b -= lr db``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ReferenceMLP"]


class ReferenceMLP:
    """Minimal ReLU/softmax/cross-entropy MLP trained by SGD, in plain NumPy.

    Parameters
    ----------
    weights : sequence of numpy.ndarray
        ``weights[l]`` of shape (n_{l+1}, n_l); copied.
    biases : sequence of numpy.ndarray
        ``biases[l]`` of shape (n_{l+1},); copied.
    learning_rate : float
        SGD step size.
    """

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        learning_rate: float,
    ) -> None:
        self.weights = [np.array(W, copy=True) for W in weights]
        self.biases = [np.array(b, copy=True) for b in biases]
        self.learning_rate = float(learning_rate)

    def train_step(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One SGD step on a batch ``X`` (m, n_0) with integer labels ``y`` (m,).

        Returns the mean cross-entropy of the batch as a 0-d array (computed before the
        update, not read back).
        """
        m = X.shape[0]
        rows = np.arange(m)
        L = len(self.weights)
        As = [X]
        Zs = []
        A = X
        for l in range(L):
            Z = A @ self.weights[l].T + self.biases[l]
            Zs.append(Z)
            if l < L - 1:
                A = np.maximum(Z, 0)
                As.append(A)
        # softmax + cross-entropy on the last Z (shifted by the row maximum)
        Z = Zs[-1]
        Z -= Z.max(axis=1, keepdims=True)
        E = np.exp(Z)
        S = E.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(S[:, 0]) - Z[rows, y])
        D = E / S
        D[rows, y] -= 1
        D /= m
        lr = self.learning_rate
        for l in range(L - 1, -1, -1):
            dW = D.T @ As[l]
            db = D.sum(axis=0)
            if l > 0:
                D = (D @ self.weights[l]) * (Zs[l - 1] > 0)
            self.weights[l] -= lr * dW
            self.biases[l] -= lr * db
        return loss
