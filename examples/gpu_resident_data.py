"""Train with the whole training set resident on the device (the GPU with CuPy).

The uint8 images are copied to the device once (47 MB for MNIST); every mini-batch is then
gathered, converted to float and scaled on the device, and the host reads back one small
vector of statistics per epoch.  With ``--memory-budget`` smaller than the data set the
images are streamed in chunks instead.  The same code runs on NumPy (the "device" is then
the CPU).

Run::

    python examples/gpu_resident_data.py --backend cupy
    python examples/gpu_resident_data.py --backend numpy --epochs 2 --train-size 5000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from anyarray_nn import Network
from anyarray_nn.data import BatchIterator
from anyarray_nn.experiments import prepare_data
from anyarray_nn.metrics import evaluate
from anyarray_nn.training import train


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy, cupy or array_api_strict")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=None, help="first N images only")
    parser.add_argument("--memory-budget", type=int, default=None, help="device bytes")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    data = prepare_data(args.data_dir, train_size=args.train_size)
    net = Network([784, 64, 10], backend=args.backend, seed=0)
    probe = BatchIterator(
        data.train_images,
        data.train_labels,
        batch_size=128,
        backend=net.backend,
        memory_budget=args.memory_budget,
    )
    print(f"{probe!r}")  # resident or streamed, on which device
    t0 = time.perf_counter()
    train(
        net,
        data.train_images,
        data.train_labels,
        epochs=args.epochs,
        batch_size=128,
        optimizer="adam",
        learning_rate=2e-3,
        schedule="cosine",
        memory_budget=args.memory_budget,
    )
    seconds = time.perf_counter() - t0
    accuracy = evaluate(net, data.test_images, data.test_labels).accuracy
    print(f"{net.backend.name}: test accuracy {accuracy:.4f}, training {seconds:.1f} s")
    return accuracy


if __name__ == "__main__":
    main()
