"""Train the 784-64-10 network on MNIST from Python and report the test accuracy.

Run::

    python examples/train_mnist.py --backend numpy
    python examples/train_mnist.py --backend cupy --epochs 20      # on a CUDA GPU

Set ``ANYARRAY_NN_DATA`` to a folder with the MNIST files when there is no network.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from anyarray_nn.experiments import NetworkSpec, prepare_data, run_experiment
from anyarray_nn.training import TrainingConfig


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy, cupy or array_api_strict")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-size", type=int, default=None, help="first N images only")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    data = prepare_data(args.data_dir, train_size=args.train_size)
    spec = NetworkSpec(sizes=(784, 64, 10), activation="relu", cost="cross_entropy", init="he")
    config = TrainingConfig(
        epochs=args.epochs,
        batch_size=128,
        optimizer="adam",
        learning_rate=2e-3,
        schedule="cosine",
        weight_decay=5e-5,
        max_shift=1,  # random one-pixel shifts, drawn per epoch
    )
    result = run_experiment(
        data,
        spec,
        config,
        backend=args.backend,
        callback=lambda r: print(f"epoch {r.epoch}: train accuracy {r.train_accuracy:.4f}"),
    )
    print(f"test accuracy {result.test_accuracy:.4f} in {result.seconds:.1f} s")
    return result.test_accuracy


if __name__ == "__main__":
    main()
