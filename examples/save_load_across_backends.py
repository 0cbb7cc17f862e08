"""Save a network trained on one backend and load it on another (e.g. CuPy -> NumPy).

Run::

    python examples/save_load_across_backends.py --backend cupy --load-backend numpy
    python examples/save_load_across_backends.py --backend numpy --load-backend array_api_strict

The model is a single ``.npz`` file with a JSON metadata entry, read with
``allow_pickle=False``; both networks predict the same labels.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anyarray_nn.backend import to_numpy
from anyarray_nn.experiments import NetworkSpec, prepare_data, run_experiment
from anyarray_nn.persistence import load_network, read_metadata, save_network
from anyarray_nn.training import TrainingConfig


def main(argv: Sequence[str] | None = None) -> bool:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="backend to train on")
    parser.add_argument("--load-backend", default="numpy", help="backend to load on")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=None, help="first N images only")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default=None, help="where to save (default: a temp folder)")
    args = parser.parse_args(argv)

    data = prepare_data(args.data_dir, train_size=args.train_size)
    result = run_experiment(
        data, NetworkSpec(), TrainingConfig(epochs=args.epochs), backend=args.backend
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.model) if args.model else Path(tmp) / "mnist.npz"
        save_network(result.network, path, training={"test_accuracy": result.test_accuracy})
        print(f"saved {path} ({path.stat().st_size} bytes): {read_metadata(path)['network']}")
        loaded = load_network(path, backend=args.load_backend)
    X = data.test_images[:1000].reshape(1000, -1).astype(np.float32) / 255.0
    before = to_numpy(result.network.predict(result.network.asarray(X)))
    after = to_numpy(loaded.predict(loaded.asarray(X)))
    same = bool(np.array_equal(before, after))
    print(f"trained on {args.backend}, loaded on {loaded.backend.name}: same predictions {same}")
    return same


if __name__ == "__main__":
    main()
