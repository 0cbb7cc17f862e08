"""``anyarray-nn predict MODEL IMAGE...``: classify PNG images of digits."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..data.images import INVERT_CHOICES, load_digit_image
from .options import add_backend, add_json, device, signature_default
from .output import write_json_output

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``predict`` on the ``subparsers`` of :func:`anyarray_nn.cli.main.build_parser`."""
    parser = subparsers.add_parser(
        "predict",
        help="classify PNG images of digits",
        description="Classify images of handwritten digits, drawn on a canvas of any size. "
        "Each image is prepared as MNIST's digits were: inverted when needed (MNIST digits are "
        "white on black; with --invert auto, the default, an image with a light border is "
        "inverted), cropped to its ink, scaled to fit 20x20 keeping its aspect ratio and "
        "centred by centre of mass in 28x28.",
    )
    parser.add_argument("model", type=Path, help="a model saved by `anyarray-nn train --save`")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="PNG (or JPEG) files")
    parser.add_argument(
        "--invert",
        choices=INVERT_CHOICES,
        default=signature_default(load_digit_image, "invert"),
        help="invert black-on-white images (default: %(default)s: when the border is light)",
    )
    add_backend(parser)
    add_json(parser, "write the predictions as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``anyarray-nn predict``; return the exit status."""
    from ..backend import to_numpy
    from ..data.images import load_digit_images
    from ..persistence import load_network

    network = load_network(args.model, args.backend, device(args.device))
    if network.sizes[0] != 784:
        raise ValueError(f"{args.model}: the network takes {network.sizes[0]} inputs, not 784")
    images = load_digit_images(args.images, invert=args.invert)
    X = network.asarray(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)
    probabilities = to_numpy(network.predict_proba(X)).astype(np.float64)
    predictions = []
    for path, p in zip(args.images, probabilities, strict=True):
        digit = int(np.argmax(p))
        predictions.append(
            {
                "image": str(path),
                "prediction": digit,
                "probability": float(p[digit]),
                "outputs": [float(v) for v in p],
            }
        )
        print(f"{path}: {digit} ({100 * p[digit]:.1f}%)")
    if args.json is not None:
        payload = {"command": "predict", "model": str(args.model), "predictions": predictions}
        write_json_output(args.json, payload)
    return 0
