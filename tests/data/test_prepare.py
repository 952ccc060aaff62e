"""jaxgen.data.prepare: a prepared TFDS dataset is read by TFDS's registered builder and by
jaxgen's sources as the IDX files it came from."""

import numpy as np
import pytest

from jaxgen.data import prepare, sources


def test_prepared_tfds_matches_idx(tmp_path, mnist_test):
  import tensorflow_datasets as tfds
  prepare.prepare_tfds("mnist", str(tmp_path), limit=500)
  builder = tfds.builder("mnist", data_dir=tmp_path)
  assert type(builder).__name__ == "MNIST"  # TFDS's registered builder reads it
  assert builder.info.features["image"].shape == (28, 28, 1)
  assert builder.info.features["label"].num_classes == 10

  data = sources.load("mnist", "test", data_dir=tmp_path)
  assert "TFDS" in data.source and data.num_classes == 10
  np.testing.assert_array_equal(data.images, mnist_test.images[:500])
  np.testing.assert_array_equal(data.labels, mnist_test.labels[:500])
  tail = sources.load("mnist", "test[-100:]", data_dir=tmp_path)
  np.testing.assert_array_equal(tail.images, mnist_test.images[400:500])
  with pytest.raises(FileExistsError, match="already prepared"):
    prepare.prepare_tfds("mnist", str(tmp_path))
