"""Train on Fashion-MNIST, downloaded, verified and cached by name, with named classes.

Run::

    python examples/fashion_mnist.py --backend numpy
    python examples/fashion_mnist.py --backend cupy     # on a CUDA GPU

The files are downloaded into ``~/.cache/anyarray_nn/fashion-mnist`` on first use; pass
``--data-dir`` to use a folder that holds them (e.g. ``/usr/share/datasets/fashion-mnist``
from Debian's ``dataset-fashion-mnist`` package).  The defaults are the recipe measured in
docs/data.md (about 89.8% test accuracy).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from anyarray_nn.experiments import NetworkSpec, prepare_data, run_experiment
from anyarray_nn.training import MNIST_RECIPE, TrainingConfig


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy, cupy or array_api_strict")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=256, help="units of the hidden layer")
    parser.add_argument("--train-size", type=int, default=None, help="first N images only")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    data = prepare_data(args.data_dir, dataset="fashion-mnist", train_size=args.train_size)
    spec = NetworkSpec(sizes=(data.n_inputs, args.hidden, data.n_classes))
    # MNIST's recipe without the random shifts (they cost Fashion-MNIST accuracy).
    config = TrainingConfig(**{**MNIST_RECIPE.to_dict(), "epochs": args.epochs, "max_shift": 0})
    result = run_experiment(data, spec, config, backend=args.backend)
    print(f"test accuracy {result.test_accuracy:.4f} in {result.seconds:.1f} s")
    names = data.class_names or ()
    for name, recall in zip(names, result.evaluation.recall, strict=True):
        print(f"  {name:<12} recall {recall:.3f}")
    return result.test_accuracy


if __name__ == "__main__":
    main()
