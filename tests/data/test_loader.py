"""Loaders: the epoch permutation covers the data, both loaders give the same batches, and
training through either gives the same parameters."""

import jax
import numpy as np

from helpers import assert_trees_equal
from jaxgen import train
from jaxgen.data import loader as loader_lib


def _mesh():
  return jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))


def _batches(loader, steps, start=0):
  select = jax.jit(loader.select)
  return [jax.device_get(select(loader.inputs(s), s)) for s in range(start, start + steps)]


def test_an_epoch_visits_each_example_once_and_epochs_differ():
  images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1)
  loader = loader_lib.OnDeviceLoader(images, np.arange(100), 10, _mesh(), jax.random.key(0))
  batches = _batches(loader, 20)
  first = np.concatenate([b["label"] for b in batches[:10]])
  second = np.concatenate([b["label"] for b in batches[10:]])
  assert sorted(first) == list(range(100)) and sorted(second) == list(range(100))
  assert not np.array_equal(first, second)
  for b in batches:
    np.testing.assert_array_equal(b["image"][:, 0, 0, 0], b["label"])


def test_streaming_loader_gives_the_on_device_batches_and_resumes_mid_epoch():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (70, 4, 4, 1), dtype=np.uint8)
  labels = rng.integers(0, 10, 70)
  key = jax.random.key(3)
  on_device = _batches(loader_lib.OnDeviceLoader(images, labels, 8, _mesh(), key), 20)
  streaming = _batches(loader_lib.StreamingLoader(images, labels, 8, _mesh(), key), 20)
  resumed = _batches(loader_lib.StreamingLoader(images, labels, 8, _mesh(), key), 7, start=13)
  for a, b in zip(on_device, streaming):
    assert_trees_equal(a, b)
  for a, b in zip(on_device[13:], resumed):
    assert_trees_equal(a, b)


def test_training_through_either_loader_gives_the_same_parameters(tmp_path, tiny_fmnist):
  tiny_fmnist.data.train_split = "train[:512]"
  tiny_fmnist.data.on_device = "yes"
  a, _ = train.train_and_evaluate(tiny_fmnist, str(tmp_path / "yes"))
  tiny_fmnist.data.on_device = "no"
  b, _ = train.train_and_evaluate(tiny_fmnist, str(tmp_path / "no"))
  assert_trees_equal(jax.device_get(a.params), jax.device_get(b.params))
