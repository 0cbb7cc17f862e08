"""The paper's section 3.2 on the 784-64-10 network, as a measured table.

Run::

    python examples/paper_experiment.py --backend numpy
    python examples/paper_experiment.py --backend numpy --epochs 2 --train-size 5000  # quick

The same as ``anyarray-nn paper``; each row is trained and measured when the script runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from anyarray_nn.experiments import (
    PAPER_STEPS,
    PaperRow,
    format_paper_table,
    prepare_data,
    run_paper,
)


def main(argv: Sequence[str] | None = None) -> list[PaperRow]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy, cupy or array_api_strict")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every step")
    parser.add_argument("--train-size", type=int, default=None, help="first N images only")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    for i, step in enumerate(PAPER_STEPS, start=1):
        print(f"step {i}: {step.change}")
    data = prepare_data(args.data_dir, train_size=args.train_size)
    rows = run_paper(data, epochs=args.epochs, backend=args.backend)
    print(format_paper_table(rows))
    return rows


if __name__ == "__main__":
    main()
