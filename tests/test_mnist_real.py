"""The real MNIST, from the folder named by ``ANYARRAY_NN_DATA`` (skipped when unset).

The data set is loaded (and verified) once per session; the tests only look at it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anyarray_nn.data import MNIST, ChecksumError, load_mnist, train_validation_split
from anyarray_nn.data.mnist import MNIST_FILES, find_mnist_files

pytestmark = pytest.mark.mnist

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> MNIST:
    # verify=True (the default): every file's decompressed SHA-256 is checked while loading.
    return load_mnist(mnist_dir, download=False, verify=True)


def test_shapes_and_dtypes(mnist: MNIST, mnist_dir: Path) -> None:
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.train_labels.shape == (60000,)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.test_labels.shape == (10000,)
    for array in (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels):
        assert array.dtype == np.uint8
        assert array.flags.c_contiguous and array.flags.writeable
    assert mnist.source == mnist_dir


def test_label_counts_per_class(mnist: MNIST) -> None:
    assert np.bincount(mnist.train_labels, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.test_labels, minlength=10).tolist() == TEST_COUNTS


def test_first_labels_and_pixel_range(mnist: MNIST) -> None:
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    for images in (mnist.train_images, mnist.test_images):
        assert int(images.min()) == 0 and int(images.max()) == 255
    # the well-known normalisation constant of MNIST: mean pixel 0.1307 of full scale
    assert abs(float(mnist.train_images.mean(dtype=np.float64)) / 255 - 0.1307) < 1e-4


def test_all_four_files_present(mnist_dir: Path) -> None:
    assert set(find_mnist_files(mnist_dir)) == set(MNIST_FILES)


def test_checksums_are_verified(mnist_dir: Path) -> None:
    # A wrong expected digest for one file must make loading fail: proof that the
    # successful load above really compared every file with its SHA-256.
    wrong = {"train-labels-idx1-ubyte": "0" * 64}
    with pytest.raises(ChecksumError) as info:
        load_mnist(mnist_dir, download=False, checksums=wrong)
    assert info.value.expected == "0" * 64
    assert info.value.actual == ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5")
    assert info.value.path.name.startswith("train-labels")


def test_env_var_is_the_default_source(mnist: MNIST, mnist_dir: Path) -> None:
    # mnist_dir comes from ANYARRAY_NN_DATA, so a bare call must find the same folder
    # (verify=False: the checksums were checked once by the session fixture).
    again = load_mnist(download=False, verify=False)
    assert again.source == mnist_dir
    np.testing.assert_array_equal(again.test_labels, mnist.test_labels)


def test_validation_split_of_real_training_set(mnist: MNIST) -> None:
    x_tr, y_tr, x_val, y_val = train_validation_split(
        mnist.train_images, mnist.train_labels, 10_000, seed=0
    )
    assert x_tr.shape == (50000, 28, 28) and x_val.shape == (10000, 28, 28)
    counts = np.bincount(y_tr, minlength=10) + np.bincount(y_val, minlength=10)
    assert counts.tolist() == TRAIN_COUNTS
