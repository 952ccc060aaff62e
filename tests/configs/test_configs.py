"""Every config's tiny variant trains a step on 1 and on 8 devices; the full variants load."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from helpers import CONFIGS, load_config, run_cli
from jaxgen import methods
from jaxgen import train
from jaxgen.types import DataSpec



@pytest.fixture(scope="module")
def fake_cifar10(tmp_path_factory):
  """A small prepared TFDS cifar10 (random pixels) read through TFDS's registered builder."""
  data_dir = tmp_path_factory.mktemp("tfds")
  reference = tfds.builder("cifar10", data_dir=data_dir)
  rng = np.random.default_rng(0)

  def examples(n, prefix):
    return [(i, {"id": f"{prefix}_{i}", "label": int(i % 10),
                 "image": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)}) for i in range(n)]

  tfds.dataset_builders.store_as_tfds_dataset(
      name="cifar10", version=reference.version, features=reference.info.features,
      split_datasets={"train": examples(256, "train"), "test": examples(64, "test")},
      data_dir=data_dir, disable_shuffling=True)
  return str(data_dir)


@pytest.fixture(scope="module")
def fake_celeb_a(tmp_path_factory):
  """A small prepared TFDS celeb_a (random faces, all-false attributes)."""
  data_dir = tmp_path_factory.mktemp("tfds_celeb_a")
  reference = tfds.builder("celeb_a", data_dir=data_dir)
  features = reference.info.features
  rng = np.random.default_rng(0)

  def examples(n):
    return [(i, {"image": rng.integers(0, 256, (218, 178, 3), dtype=np.uint8),
                 "attributes": {k: False for k in features["attributes"].keys()},
                 "identity": {"Identity_No": i},
                 "landmarks": {k: 0 for k in features["landmarks"].keys()}}) for i in range(n)]

  tfds.dataset_builders.store_as_tfds_dataset(
      name="celeb_a", version=reference.version, features=features,
      split_datasets={"train": examples(64), "validation": examples(32), "test": examples(32)},
      data_dir=data_dir, disable_shuffling=True)
  return str(data_dir)


def _tiny(name, fake_cifar10, fake_celeb_a):
  c = load_config(name, "tiny")
  c.data.data_dir = {"cifar10": fake_cifar10, "celeb_a": fake_celeb_a}.get(c.data.name,
                                                                           c.data.data_dir)
  c.num_steps = c.checkpoint_every = c.sample_every = c.eval_every = 1
  return c


@pytest.mark.parametrize("name", CONFIGS)
def test_full_config_loads(name):
  c = load_config(name, "")
  assert c.num_steps > 1000 and c.batch_size > 0


# Image shapes by dataset (the loader's); 28x28x1 for the others.
SHAPES = {"cifar10": (32, 32, 3), "celeb_a": (64, 64, 3)}


@pytest.mark.parametrize("name", CONFIGS)
def test_full_config_builds_its_method(name):
  """Building checks what needs no data, e.g. that the likelihood fits data.preprocess."""
  c = load_config(name, "")
  shape = SHAPES.get(c.data.name, (28, 28, 1))
  if c.data.pad_to:
    shape = (c.data.pad_to, c.data.pad_to, shape[2])
  methods.get(c, DataSpec(shape, 10))


@pytest.mark.parametrize("name", CONFIGS)
def test_tiny_config_trains_one_step(tmp_path, name, fake_cifar10, fake_celeb_a):
  c = _tiny(name, fake_cifar10, fake_celeb_a)
  state, summary = train.train_and_evaluate(c, str(tmp_path))
  assert int(state.step) == 1 and np.isfinite(summary["train"]["train/loss"])
  generates = c.method != "classifier"  # a classifier writes no sample grids
  assert os.path.exists(tmp_path / "samples" / "step_000001.png") == generates


@pytest.mark.parametrize("name", CONFIGS)
def test_tiny_config_trains_one_step_on_8_devices(tmp_path, name, fake_cifar10, fake_celeb_a):
  c = _tiny(name, fake_cifar10, fake_celeb_a)
  run_cli("train.py", "--config", f"configs/{name}.py:tiny", "--workdir", str(tmp_path),
          f"--config.data.data_dir={c.data.data_dir}", "--config.num_steps=1",
          env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
  assert os.path.exists(tmp_path / "checkpoints" / "1")


# Configs on the real MNIST protocol (train on the 60k train split, evaluate on the 10k test
# split), by variant; and the pixel models' `mnist` budgets in steps of batch 64 (the README's).
MNIST_PROTOCOL = {("vae_mnist", "mnist"): "binarize", ("draw_mnist", "mnist"): "binarize",
                  ("mlp_gan_mnist", ""): "scale01", ("classifier_mnist", ""): "scale01",
                  **{(arch, "mnist"): "binarize" for arch in
                     ("pixelcnn", "gated_pixelcnn", "row_lstm", "diagonal_bilstm", "row_rnn")}}
PIXEL_MNIST_STEPS = dict(pixelcnn=500, gated_pixelcnn=375, row_lstm=750, diagonal_bilstm=250,
                         row_rnn=2500)


@pytest.mark.parametrize("name,variant", sorted(MNIST_PROTOCOL))
def test_mnist_variants_train_on_the_train_split_and_evaluate_on_the_test_split(name, variant):
  c = load_config(name, variant)
  assert (c.data.name, c.data.train_split, c.data.eval_split, c.data.preprocess) == (
      "mnist", "train", "test", MNIST_PROTOCOL[name, variant])
  if name in PIXEL_MNIST_STEPS:
    assert (c.batch_size, c.num_steps) == (64, PIXEL_MNIST_STEPS[name])
  with pytest.raises(ValueError, match="heldout"):  # the MNIST-test protocol is gone
    load_config(name, "heldout")
