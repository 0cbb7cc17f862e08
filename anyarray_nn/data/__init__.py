"""Data on the host: IDX files, MNIST (files, download, loading), splits, batches, augmentation.

Everything in this package works on host NumPy arrays; the training loop copies batches to
the device of its backend.

Examples
--------
>>> from anyarray_nn.data import load_mnist, train_validation_split  # doctest: +SKIP
>>> mnist = load_mnist()                                               # doctest: +SKIP
>>> x_train, y_train, x_val, y_val = train_validation_split(          # doctest: +SKIP
...     mnist.train_images, mnist.train_labels, 10_000, seed=0)
"""

from .augment import expand_with_shifts, shift_images
from .batches import BatchIterator
from .datasets import DATASET_NAMES, DATASETS, Dataset, DatasetInfo, load_dataset, load_idx_folder
from .download import MNIST_MIRRORS, DownloadError, download_mnist
from .idx import IDXFormatError, load_idx_pair, read_idx, write_idx
from .mnist import MNIST, load_mnist
from .mnist_files import (
    DATA_ENV_VAR,
    MNIST_FILES,
    MNIST_SHA256,
    ChecksumError,
    MNISTNotFoundError,
    default_cache_dir,
    find_mnist_files,
)
from .splits import train_validation_split

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "DATA_ENV_VAR",
    "MNIST",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "BatchIterator",
    "ChecksumError",
    "Dataset",
    "DatasetInfo",
    "DownloadError",
    "IDXFormatError",
    "MNISTNotFoundError",
    "default_cache_dir",
    "download_mnist",
    "expand_with_shifts",
    "find_mnist_files",
    "load_dataset",
    "load_idx_folder",
    "load_idx_pair",
    "load_mnist",
    "read_idx",
    "shift_images",
    "train_validation_split",
    "write_idx",
]
