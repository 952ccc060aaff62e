"""jaxgen.metrics.domain: the shipped domain feature extractors, classifiers trained by the
classifier method, on held-out images, padded images and wrong inputs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.metrics import domain


@pytest.mark.parametrize("name", domain.NAMES)
def test_shipped_extractor_classifies_held_out_images(name):
  meta = domain.info(name)
  # Each extractor is trained on its dataset's train split and evaluated on the test split.
  assert (meta["dataset"], meta["train_split"], meta["split"], meta["preprocess"]) == (
      name, "train", "test", "scale01")
  ds = data_lib.load(name, "test[:1000]")
  extract = domain.load_domain_extractor(name)
  features, logits = extract(jnp.asarray(ds.images, jnp.float32) / 255.0)
  assert features.shape == (1000, meta["model"]["feature_dim"]) and logits.shape == (1000, 10)
  assert bool(jnp.all(features >= 0.0))  # ReLU outputs
  accuracy = float(np.mean(np.argmax(logits, -1) == ds.labels))
  # 1000 images: the standard error of the subset's accuracy is ≤ 0.9 points.
  assert accuracy >= meta["accuracy"] - 0.02, (accuracy, meta["accuracy"])


def test_extractor_accepts_padded_images_and_rejects_other_shapes():
  extract = domain.load_domain_extractor("fashion_mnist")
  images = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1))
  features, logits = extract(images)
  padded_features, padded_logits = extract(data_lib.pad_to(images, 32))
  np.testing.assert_allclose(padded_features, features, rtol=1e-6)
  np.testing.assert_allclose(padded_logits, logits, rtol=1e-6)
  single, _ = extract(images[:1])  # running batch statistics: no dependence on the batch
  np.testing.assert_allclose(single, features[:1], rtol=1e-4, atol=1e-4)  # matmul rounding
  for bad in [(4, 28, 28, 3), (4, 30, 30, 1), (28, 28, 1)]:
    with pytest.raises(ValueError, match=r"takes images \[B, 28, 28, 1\]"):
      extract(jnp.zeros(bad))
  with pytest.raises(ValueError, match="float images in"):
    extract(jnp.zeros((4, 28, 28, 1), jnp.uint8))
  with pytest.raises(ValueError, match="no domain extractor for 'cifar10'"):
    domain.load_domain_extractor("cifar10")


def test_shipped_weights_are_small():
  for name in domain.NAMES:
    assert (domain.WEIGHTS_DIR / f"classifier_{name}.npz").stat().st_size < 5 * 2**20
    assert math.isfinite(domain.info(name)["nll"])
