"""The offline MNIST IDX files, and their test split, for the tests of jaxgen.data."""

import pytest

from jaxgen.data import sources


@pytest.fixture(scope="module")
def mnist_dir():
  directory = sources.offline_idx_dir("mnist")
  assert directory is not None, "MNIST IDX files should be in shared/data/mnist"
  return directory


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
  return sources.load(f"idx:{mnist_dir}", "test")
