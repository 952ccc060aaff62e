"""Data sources: IDX parsing, source resolution, TFDS path, slicing, built-in datasets."""

import gzip
import logging
from pathlib import Path

import numpy as np
import pytest

from jaxgen.data import sources

MNIST_TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _idx_bytes(magic: int, array: np.ndarray) -> bytes:
  dims = np.asarray(array.shape, ">u4").tobytes()
  return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def _write_idx(directory: Path, n_images=5, n_labels=5, image_magic=0x803, cut=0):
  """Small t10k-* IDX files; `cut` drops bytes from the end of the image payload."""
  images = np.arange(n_images * 28 * 28).reshape(n_images, 28, 28)
  image_bytes = _idx_bytes(image_magic, images)
  (directory / "t10k-images-idx3-ubyte.gz").write_bytes(
      gzip.compress(image_bytes[:len(image_bytes) - cut]))
  (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(
      gzip.compress(_idx_bytes(0x801, np.arange(n_labels) % 10)))
  return images.astype(np.uint8)[..., None]


# -- IDX sources ----------------------------------------------------------------------------------

def test_mnist_test_split_parses(mnist_test):
  assert mnist_test.images.shape == (10_000, 28, 28, 1)
  assert mnist_test.images.dtype == np.uint8 and mnist_test.labels.dtype == np.int32
  assert mnist_test.labels[:5].tolist() == [7, 2, 1, 0, 4]
  assert np.bincount(mnist_test.labels).tolist() == MNIST_TEST_CLASS_COUNTS
  assert mnist_test.num_classes == 10


def test_mnist_resolves_to_offline_idx(tmp_path, mnist_dir, mnist_test):
  data = sources.load("mnist", "test", data_dir=tmp_path)  # tmp_path holds no TFDS data
  assert str(mnist_dir) in data.source
  np.testing.assert_array_equal(data.images, mnist_test.images)


def test_each_split_is_announced_once_per_process(tmp_path, monkeypatch, caplog):
  _write_idx(tmp_path)
  monkeypatch.setenv("JAXGEN_MNIST_DIR", str(tmp_path))
  with caplog.at_level(logging.INFO):
    for split in ("test", "test", "test[:2]"):  # e.g. a run's spec, training, an evaluator
      sources.load("mnist", split, data_dir=tmp_path / "tfds")
  said = [r.getMessage() for r in caplog.records if "reading" in r.getMessage()]
  assert said == [f"mnist test: reading IDX files from {tmp_path}"]


def test_mnist_dir_env_override(tmp_path, monkeypatch):
  images = _write_idx(tmp_path)
  monkeypatch.setenv("JAXGEN_MNIST_DIR", str(tmp_path))
  data = sources.load("mnist", "test", data_dir=tmp_path / "tfds")
  np.testing.assert_array_equal(data.images, images)
  assert data.num_classes == 10


def test_fashion_mnist_offline(tmp_path):
  if sources.offline_idx_dir("fashion_mnist") is None:
    pytest.skip("Debian's dataset-fashion-mnist is not installed")
  for split, n in (("train", 60_000), ("test", 10_000)):
    data = sources.load("fashion_mnist", split, data_dir=tmp_path)
    assert data.images.shape == (n, 28, 28, 1) and data.images.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [n // 10] * 10
    assert "IDX" in data.source


MNIST_TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_mnist_train_split_offline(tmp_path, mnist_dir):
  data = sources.load("mnist", "train", data_dir=tmp_path)  # tmp_path holds no TFDS data
  assert str(mnist_dir) in data.source
  assert data.images.shape == (60_000, 28, 28, 1) and data.images.dtype == np.uint8
  assert data.labels[:5].tolist() == [5, 0, 4, 1, 9]
  assert np.bincount(data.labels).tolist() == MNIST_TRAIN_CLASS_COUNTS


def test_mnist_missing_train_split_names_file(tmp_path, monkeypatch):
  _write_idx(tmp_path)  # a test split only
  monkeypatch.setenv("JAXGEN_MNIST_DIR", str(tmp_path))
  with pytest.raises(FileNotFoundError, match=f"(?s){tmp_path}.*no train-images-idx3-ubyte"):
    sources.load("mnist", "train", data_dir=tmp_path / "tfds")


def test_no_source_names_dataset_and_dir(tmp_path):
  with pytest.raises(FileNotFoundError, match=f"(?s)cifar10.*{tmp_path}"):
    sources.load("cifar10", "train", data_dir=tmp_path)


@pytest.mark.parametrize("corrupt, error, expected", [
    (dict(image_magic=0x804), ValueError, "0x00000804, expected 0x00000803"),
    (dict(cut=10), ValueError, "expected 3920 bytes of data for shape (5, 28, 28), got 3910"),
    (dict(n_labels=4), ValueError, "holds 5 images but .*t10k-labels-idx1-ubyte.gz holds 4"),
])
def test_corrupt_idx_errors(tmp_path, corrupt, error, expected):
  _write_idx(tmp_path, **corrupt)
  with pytest.raises(error, match=expected.replace("(", r"\(").replace(")", r"\)")) as e:
    sources.load(f"idx:{tmp_path}", "test")
  assert "t10k-images-idx3-ubyte.gz" in str(e.value)


def test_truncated_gzip(tmp_path):
  _write_idx(tmp_path)
  path = tmp_path / "t10k-labels-idx1-ubyte.gz"
  path.write_bytes(path.read_bytes()[:-12])
  with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
    sources.load(f"idx:{tmp_path}", "test")


def test_missing_file(tmp_path):
  _write_idx(tmp_path)
  (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
  with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
    sources.load(f"idx:{tmp_path}", "test")


def test_unknown_name_and_split():
  with pytest.raises(ValueError, match="unknown dataset 'mnsit'.*'fashion_mnist'"):
    sources.load("mnsit", "test")
  with pytest.raises(ValueError, match="unknown split 'valid' for digits"):
    sources.load("digits", "valid")


# -- Splits ---------------------------------------------------------------------------------------

def test_held_out_slices_partition_the_test_split(mnist_dir, mnist_test):
  train = sources.load(f"idx:{mnist_dir}", "test[:8000]")
  held_out = sources.load(f"idx:{mnist_dir}", "test[8000:]")
  assert len(train.images) == 8000 and len(held_out.images) == 2000
  np.testing.assert_array_equal(np.concatenate([train.images, held_out.images]),
                                mnist_test.images)
  np.testing.assert_array_equal(held_out.labels, mnist_test.labels[8000:])


def test_percent_slices_round_to_closest():
  assert len(sources.load("digits", "train[:10%]").labels) == 150
  assert len(sources.load("digits", "test[:10%]").labels) == 30  # 29.7, as TFDS rounds
  tail = sources.load("digits", "test[-10%:]")
  np.testing.assert_array_equal(tail.labels, sources.load("digits", "test").labels[-30:])


@pytest.mark.parametrize("split, expected", [
    ("test[:5%:]", "malformed split"),
    ("test[a:]", "malformed split"),
    ("test[1%:50]", "mixes percent and absolute"),
    ("test[:400]", "outside a split of 297"),
])
def test_bad_slices(split, expected):
  with pytest.raises(ValueError, match=expected):
    sources.load("digits", split)


# -- Built-in datasets ----------------------------------------------------------------------------

def test_digits():
  train, test = sources.load("digits", "train"), sources.load("digits", "test")
  assert train.images.shape == (1500, 8, 8, 1) and test.images.shape == (297, 8, 8, 1)
  assert train.images.dtype == np.uint8 and train.images.max() == 255
  assert set(np.unique(train.labels)) == set(range(10)) and train.num_classes == 10


def test_toy_ring():
  data = sources.load("toy_ring", "train")
  assert data.images.shape == (10_000, 2) and data.images.dtype == np.float32
  assert data.num_classes == 8 and np.bincount(data.labels).min() > 1000
  angles = 2 * np.pi * data.labels / 8
  centres = 2 * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
  assert np.abs(data.images - centres).max() < 0.02 * 6
  np.testing.assert_array_equal(data.images, sources.load("toy_ring", "train").images)
  assert not np.array_equal(data.images, sources.load("toy_ring", "test").images)


def test_celeb_a_central_crop():
  face = np.full((218, 178, 3), 255, np.uint8)
  face[55:163, 35:143] = 7  # the central 108x108
  small = np.asarray(sources._celeb_a_64(face))
  assert small.shape == (64, 64, 3) and small.dtype == np.uint8
  assert (small == 7).all()


# -- TFDS path ------------------------------------------------------------------------------------

def test_tfds_binarized_mnist_maps_to_255(tmp_path):
  """Unlabelled TFDS data through the registered builder: {0, 1} pixels come back {0, 255}."""
  import tensorflow_datasets as tfds
  pixels = np.random.default_rng(0).integers(0, 2, (20, 28, 28, 1), dtype=np.uint8)
  reference = tfds.builder("binarized_mnist", data_dir=tmp_path)
  tfds.dataset_builders.store_as_tfds_dataset(
      name="binarized_mnist", version=reference.version, features=reference.info.features,
      split_datasets={"test": [(i, {"image": p}) for i, p in enumerate(pixels)]},
      data_dir=tmp_path, disable_shuffling=True)
  data = sources.load("binarized_mnist", "test", data_dir=tmp_path)
  np.testing.assert_array_equal(data.images, pixels * 255)
  assert data.num_classes == 0 and not data.labels.any() and data.labels.dtype == np.int32
