"""The named data sets: where each is served, how it is verified, and its class names.

Two kinds of digest verify a named set (:class:`DatasetInfo`):

- ``sha256``: the SHA-256 of each file's *decompressed* IDX bytes, so the original ``.gz``
  downloads, recompressed copies and uncompressed files all pass (MNIST, Fashion-MNIST);
- ``archives``: the size and SHA-256 of each ``.gz`` file *as published*, for a set whose
  decompressed digests are not recorded (KMNIST).  Only the original archives pass; a
  decompressed or recompressed copy loads with ``verify=False``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass

from .download import MNIST_MIRRORS
from .mnist_files import MNIST_SHA256, ArchiveDigest

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "FASHION_MNIST_SHA256",
    "KMNIST_ARCHIVES",
    "DatasetInfo",
]


@dataclass(frozen=True)
class DatasetInfo:
    """What the library knows of a named data set.

    Attributes
    ----------
    name : str
    title : str
    homepage : str
    mirrors : tuple of str
        Base URLs serving ``<canonical name>.gz``, tried in order.
    sha256 : mapping of str to str, or None
        SHA-256 of each file's decompressed bytes, by canonical name; ``None`` when not
        recorded here.
    class_names : tuple of str
    archives : mapping of str to ArchiveDigest, or None
        Size and SHA-256 of each ``.gz`` file as published, by canonical name; ``None``
        when not recorded.  A set with neither digest loads only with ``verify=False``.
    preprocess : str
        How ``predict`` turns a picture into one of the set's images, one of
        :data:`anyarray_nn.data.images.PREPROCESS_CHOICES`.
    """

    name: str
    title: str
    homepage: str
    mirrors: tuple[str, ...]
    sha256: Mapping[str, str] | None
    class_names: tuple[str, ...]
    archives: Mapping[str, ArchiveDigest] | None = None
    preprocess: str = "mnist"

    @property
    def verifiable(self) -> bool:
        """Whether digests of the files are recorded (either kind)."""
        return self.sha256 is not None or self.archives is not None


#: SHA-256 of the decompressed Fashion-MNIST files, computed from Debian's
#: ``dataset-fashion-mnist`` package (the same bytes as Zalando's release).
FASHION_MNIST_SHA256: Mapping[str, str] = types.MappingProxyType(
    {
        "train-images-idx3-ubyte": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        ),  # 47040016 bytes
        "train-labels-idx1-ubyte": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        ),  # 60008 bytes
        "t10k-images-idx3-ubyte": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        ),  # 7840016 bytes
        "t10k-labels-idx1-ubyte": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        ),  # 10008 bytes
    }
)

#: Size and SHA-256 of KMNIST's ``.gz`` files as its authors serve them
#: (``http://codh.rois.ac.jp/kmnist/dataset/kmnist/``), as recorded by TensorFlow Datasets
#: (``tensorflow_datasets/url_checksums/kmnist.txt``, release 4.9.10).  The authors publish
#: no digests themselves; see docs/data.md.
KMNIST_ARCHIVES: Mapping[str, ArchiveDigest] = types.MappingProxyType(
    {
        "train-images-idx3-ubyte": ArchiveDigest(
            18165135, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"
        ),
        "train-labels-idx1-ubyte": ArchiveDigest(
            29497, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"
        ),
        "t10k-images-idx3-ubyte": ArchiveDigest(
            3041136, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"
        ),
        "t10k-labels-idx1-ubyte": ArchiveDigest(
            5120, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"
        ),
    }
)

#: The named data sets, by the name ``load_dataset`` and ``--dataset`` take.
DATASETS: Mapping[str, DatasetInfo] = types.MappingProxyType(
    {
        "mnist": DatasetInfo(
            "mnist",
            "MNIST handwritten digits",
            "https://yann.lecun.com/exdb/mnist/",
            MNIST_MIRRORS,
            MNIST_SHA256,
            tuple(str(d) for d in range(10)),
        ),
        "fashion-mnist": DatasetInfo(
            "fashion-mnist",
            "Fashion-MNIST (Zalando article images)",
            "https://github.com/zalandoresearch/fashion-mnist",
            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            FASHION_MNIST_SHA256,
            (
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            preprocess="fashion",  # crop, fit 28x28, centre the box (Zalando's conversion)
        ),
        "kmnist": DatasetInfo(
            "kmnist",
            "Kuzushiji-MNIST (cursive Japanese hiragana)",
            "https://github.com/rois-codh/kmnist",
            ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            None,  # decompressed digests not recorded: the archives' are
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            archives=KMNIST_ARCHIVES,
            preprocess="mnist",  # white-on-black 28x28 characters: the digits' conversion fits best
        ),
    }
)

#: Names accepted by :func:`~anyarray_nn.data.datasets.load_dataset` (and ``--dataset``).
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)
