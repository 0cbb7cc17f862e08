"""MNIST-like preprocessing of drawn digits (drawings made here with Pillow, never MNIST)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.data.images import load_digit_image
from anyarray_nn.data.preprocess import centre_of_mass, mnist_like, whole_resize

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageDraw  # noqa: E402


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    t = np.linspace(0.0, 2.0 * np.pi, 25)
    return [(cx + rx * float(np.cos(a)), cy + ry * float(np.sin(a))) for a in t]


#: Each digit as strokes (polylines) in a unit box, x right, y down.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_ellipse(0.5, 0.5, 0.4, 0.5)],
    1: [[(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    2: [[(0.1, 0.25), (0.3, 0.03), (0.6, 0.0), (0.85, 0.2), (0.8, 0.45), (0.1, 1.0), (0.95, 1.0)]],
    3: [
        [
            (0.1, 0.1),
            (0.5, 0.0),
            (0.85, 0.15),
            (0.8, 0.4),
            (0.4, 0.5),
            (0.9, 0.65),
            (0.85, 0.9),
            (0.5, 1.0),
            (0.1, 0.9),
        ]
    ],
    4: [[(0.7, 1.0), (0.7, 0.0), (0.05, 0.7), (0.95, 0.7)]],
    5: [
        [
            (0.85, 0.0),
            (0.2, 0.0),
            (0.15, 0.45),
            (0.6, 0.4),
            (0.9, 0.6),
            (0.8, 0.9),
            (0.5, 1.0),
            (0.1, 0.9),
        ]
    ],
    6: [
        [
            (0.75, 0.0),
            (0.35, 0.3),
            (0.15, 0.7),
            (0.3, 1.0),
            (0.7, 1.0),
            (0.85, 0.75),
            (0.65, 0.5),
            (0.3, 0.55),
            (0.17, 0.7),
        ]
    ],
    7: [[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)]],
    8: [_ellipse(0.5, 0.25, 0.3, 0.25), _ellipse(0.5, 0.72, 0.38, 0.28)],
    9: [_ellipse(0.5, 0.3, 0.35, 0.3), [(0.85, 0.3), (0.7, 1.0)]],
}


def draw_digit(
    digit: int,
    canvas: tuple[int, int] = (200, 200),
    box: tuple[float, float, float, float] = (40, 30, 120, 140),
    width: int = 10,
    paper: int = 255,
    ink: int = 0,
) -> np.ndarray:
    """A ``canvas`` (H, W) gray image with ``digit`` drawn in ``box`` = (x, y, w, h)."""
    img = Image.new("L", (canvas[1], canvas[0]), paper)
    draw = ImageDraw.Draw(img)
    x0, y0, w, h = box
    for stroke in STROKES[digit]:
        pts = [(x0 + x * w, y0 + y * h) for x, y in stroke]
        draw.line(pts, fill=ink, width=width, joint="curve")
    return np.asarray(img, dtype=np.uint8)


def _random_drawings(n: int, seed: int) -> list[tuple[int, np.ndarray]]:
    """Digits drawn the way people draw: any canvas, size, place and stroke width."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        digit = i % 10
        ch, cw = int(rng.integers(60, 400)), int(rng.integers(60, 400))
        side = min(ch, cw)
        h = float(rng.uniform(0.25, 0.8)) * side
        w = h * float(rng.uniform(0.5, 0.8))
        x0 = float(rng.uniform(0.05 * cw, cw - w - 0.05 * cw))
        y0 = float(rng.uniform(0.05 * ch, ch - h - 0.05 * ch))
        width = max(2, int(h * rng.uniform(0.05, 0.14)))
        paper = int(rng.integers(200, 256))
        out.append((digit, draw_digit(digit, (ch, cw), (x0, y0, w, h), width, paper)))
    return out


@pytest.mark.parametrize(
    "canvas, box, width",
    [
        ((200, 200), (40, 30, 120, 140), 10),
        ((480, 640), (500, 20, 60, 90), 4),  # small, in a corner of a wide canvas
        ((60, 45), (10, 5, 20, 50), 3),  # tall and thin on a tiny canvas
        ((300, 120), (5, 100, 100, 150), 20),  # thick strokes, off-centre
    ],
)
@pytest.mark.parametrize("digit", [1, 4, 7, 8])
def test_mnist_like_box_centre_range(
    digit: int, canvas: tuple[int, int], box: tuple[int, int, int, int], width: int
) -> None:
    out = mnist_like(draw_digit(digit, canvas, box, width))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out.max() == 255 and out.min() == 0
    rows = np.flatnonzero(out.any(axis=1))
    cols = np.flatnonzero(out.any(axis=0))
    assert rows[-1] - rows[0] + 1 <= 20 and cols[-1] - cols[0] + 1 <= 20
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 19  # the longer side fills 20
    cy, cx = centre_of_mass(out)
    assert abs(cy - 13.5) <= 0.5 + 1e-9 and abs(cx - 13.5) <= 0.5 + 1e-9
    assert out[0, :].max() == 0 and out[:, 0].max() == 0  # black background


def test_mnist_like_invariant_to_place_and_inversion() -> None:
    a = mnist_like(draw_digit(3, (200, 200), (40, 30, 120, 140), 10))
    b = mnist_like(draw_digit(3, (400, 300), (150, 200, 120, 140), 10))
    assert np.array_equal(a, b)  # same drawing elsewhere on a bigger canvas
    light_on_dark = draw_digit(3, (200, 200), (40, 30, 120, 140), 10, paper=0, ink=255)
    assert np.array_equal(mnist_like(light_on_dark), a)
    assert np.array_equal(mnist_like(light_on_dark, invert="no"), a)


def test_mnist_like_blank_and_errors() -> None:
    assert not mnist_like(np.full((50, 40), 230, np.uint8)).any()
    with pytest.raises(ValueError, match="2-D"):
        mnist_like(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="invert"):
        mnist_like(np.zeros((5, 5), np.uint8), invert="sometimes")


def _nearest_template(images: list[np.ndarray], templates: np.ndarray) -> np.ndarray:
    t = templates.reshape(10, -1).astype(np.float64)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    x = np.stack([im.reshape(-1) for im in images]).astype(np.float64)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.argmax(x @ t.T, axis=1)


def test_mnist_like_classifies_drawings_better_than_whole_resize() -> None:
    # Templates: each digit drawn once, centred and large; each method makes its own.
    canonical = [draw_digit(d, (200, 200), (55, 25, 90, 150), 12) for d in range(10)]
    drawings = _random_drawings(60, seed=1)
    labels = np.array([d for d, _ in drawings])
    scores = {}
    for name, method in (("mnist", mnist_like), ("resize", whole_resize)):
        templates = np.stack([method(im) for im in canonical])
        predicted = _nearest_template([method(im) for _, im in drawings], templates)
        scores[name] = int((predicted == labels).sum())
    assert scores["mnist"] >= 50, scores
    assert scores["mnist"] >= scores["resize"] + 20, scores


def test_load_digit_image_uses_mnist_preprocessing(tmp_path: Path) -> None:
    drawing = draw_digit(7, (150, 260), (180, 20, 50, 100), 6)
    path = tmp_path / "seven.png"
    Image.fromarray(drawing).save(path)
    assert np.array_equal(load_digit_image(path), mnist_like(drawing))
    old = load_digit_image(path, preprocess="resize")
    assert np.array_equal(old, whole_resize(drawing))
    with pytest.raises(ValueError, match="preprocess"):
        load_digit_image(path, preprocess="magic")


@pytest.mark.mnist
def test_a_network_trained_on_mnist_reads_drawings(mnist_dir: Path) -> None:
    """The point of it all: an MNIST model recognises drawn digits after ``mnist_like``."""
    from anyarray_nn import Network
    from anyarray_nn.data import load_mnist
    from anyarray_nn.training import train

    mnist = load_mnist(mnist_dir, download=False)
    net = Network([784, 64, 10], seed=0)
    train(net, mnist.train_images[:20000], mnist.train_labels[:20000], epochs=3,
          max_shift=1, progress=False, diagnostics=False)  # fmt: skip
    drawings = _random_drawings(60, seed=1)
    labels = np.array([d for d, _ in drawings])
    right = {}
    for method in (mnist_like, whole_resize):
        X = np.stack([method(im).reshape(-1) for _, im in drawings]) / 255.0
        right[method.__name__] = int((np.asarray(net.predict(net.asarray(X))) == labels).sum())
    assert right["mnist_like"] >= 50, right
    assert right["mnist_like"] >= right["whole_resize"] + 30, right
