"""``anyarray-nn predict MODEL IMAGE...``: classify pictures as the model's data set's images."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..data.catalog import DATASET_NAMES, DATASETS
from ..data.images import INVERT_CHOICES, load_digit_image
from .options import add_backend, add_json, device, recorded_data, signature_default
from .output import write_json_output

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``predict`` on the ``subparsers`` of :func:`anyarray_nn.cli.main.build_parser`."""
    parser = subparsers.add_parser(
        "predict",
        help="classify PNG images (digits, or the model's data set)",
        description="Classify pictures of any size, each prepared as the model's data set's "
        "images were. Digits (mnist, and kmnist's characters): inverted when needed (MNIST "
        "digits are white on black; with --invert auto, the default, an image with a light "
        "border is inverted), cropped to the ink, scaled to fit 20x20 keeping the aspect ratio "
        "and centred by centre of mass in 28x28. fashion-mnist: cropped, scaled to fill 28x28 "
        "keeping the aspect ratio and centred. The data set is the one the model was trained "
        "on (recorded by `train --save`) unless --dataset says otherwise.",
    )
    parser.add_argument("model", type=Path, help="a model saved by `anyarray-nn train --save`")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="PNG (or JPEG) files")
    parser.add_argument(
        "--dataset",
        choices=DATASET_NAMES,
        default=None,
        help="the data set whose images and class names to use (default: the one recorded "
        "in the model, else mnist)",
    )
    parser.add_argument(
        "--invert",
        choices=INVERT_CHOICES,
        default=signature_default(load_digit_image, "invert"),
        help="invert black-on-white images (default: %(default)s: when the border is light)",
    )
    add_backend(parser)
    add_json(parser, "write the predictions as JSON")
    parser.set_defaults(func=run)


def _class_names(dataset: str | None, recorded: dict[str, Any], n_outputs: int) -> list[str]:
    names = DATASETS[dataset].class_names if dataset else recorded["class_names"]
    names = [str(n) for n in names]
    return names if len(names) == n_outputs else [str(c) for c in range(n_outputs)]


def _side(model: Path, n_inputs: int) -> int:
    side = math.isqrt(n_inputs)
    if side * side != n_inputs:
        raise ValueError(f"{model}: the network takes {n_inputs} inputs, not a square image")
    return side


def run(args: argparse.Namespace) -> int:
    """Run ``anyarray-nn predict``; return the exit status."""
    from ..backend import to_numpy
    from ..data.images import load_digit_images
    from ..persistence import load_network

    network = load_network(args.model, args.backend, device(args.device))
    recorded = recorded_data(args.model)
    dataset = args.dataset or recorded["dataset"]
    if dataset is None and not recorded["class_names"]:  # nothing recorded: digits
        dataset = "mnist"
    side = _side(args.model, network.sizes[0])
    # An unnamed IDX folder's model (class names, no data set): the digits' preparation.
    preprocess = DATASETS[dataset or "mnist"].preprocess
    images = load_digit_images(
        args.images, invert=args.invert, size=(side, side), preprocess=preprocess
    )
    X = network.asarray(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)
    probabilities = to_numpy(network.predict_proba(X)).astype(np.float64)
    names = _class_names(dataset, recorded, network.sizes[-1])
    predictions = []
    for path, p in zip(args.images, probabilities, strict=True):
        label = int(np.argmax(p))
        predictions.append(
            {
                "image": str(path),
                "prediction": label,
                "class_name": names[label],
                "probability": float(p[label]),
                "outputs": [float(v) for v in p],
            }
        )
        shown = str(label) if names[label] == str(label) else f"{label} {names[label]}"
        print(f"{path}: {shown} ({100 * p[label]:.1f}%)")
    if args.json is not None:
        payload = {
            "command": "predict",
            "model": str(args.model),
            "dataset": dataset,
            "class_names": names,
            "predictions": predictions,
        }
        write_json_output(args.json, payload)
    return 0
