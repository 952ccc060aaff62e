"""The classifier method: random shifts, learning an easy task, and the tiny configs' training
(the shipped domain extractors built from it: tests/metrics/test_domain.py)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import load_config
from jaxgen import train
from jaxgen.methods import classifier
from jaxgen.types import DataSpec


def test_random_shift_translates_each_image_within_the_bound():
  images = jnp.zeros((200, 9, 9, 1)).at[:, 4, 4, 0].set(1.0)  # one lit pixel in the centre
  shifted = classifier.random_shift(jax.random.key(0), images, 2)
  assert shifted.shape == images.shape
  np.testing.assert_array_equal(shifted.sum(axis=(1, 2, 3)), 1.0)  # moved, not cut off
  rows, cols = np.nonzero(np.asarray(shifted[..., 0]))[1:]
  assert set(rows - 4) == set(cols - 4) == {-2, -1, 0, 1, 2}


def blob_batch(batch_size, seed):
  """Two classes of 8×8 images: a bright 3×3 blob in the left or the right half, plus noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, batch_size)
  images = rng.uniform(0.0, 0.3, (batch_size, 8, 8, 1))
  for i, (label, row) in enumerate(zip(labels, rng.integers(0, 6, batch_size))):
    col = rng.integers(0, 2) + 4 * label
    images[i, row:row + 3, col:col + 2] = 1.0
  return {"image": jnp.asarray(images, jnp.float32), "label": jnp.asarray(labels, jnp.int32)}


def test_classifier_learns_an_easy_task():
  c = classifier.default_method_config()
  c.model.features, c.model.feature_dim, c.num_steps = (8, 16), 16, 40
  method = classifier.make(c, DataSpec((8, 8, 1), 2))
  train_batch, test_batch = blob_batch(128, 0), blob_batch(256, 1)
  state = jax.jit(method.init)(jax.random.key(0), train_batch)
  evaluate = jax.jit(method.eval_step)
  before = evaluate(state, test_batch, jax.random.key(1))
  assert {k: v.shape for k, v in before.items()} == {"accuracy": (256,), "nll": (256,)}
  step = jax.jit(chex.assert_max_traces(method.train_step, n=1), donate_argnums=0)
  for i in range(c.num_steps):
    state, metrics = step(state, train_batch, jax.random.fold_in(jax.random.key(2), i))
  after = evaluate(state, test_batch, jax.random.key(1))
  assert float(before["accuracy"].mean()) < 0.75 < 0.85 < float(after["accuracy"].mean())
  assert float(after["nll"].mean()) < float(before["nll"].mean())
  assert set(metrics) == {"loss", "accuracy", "l2_grads", "l2_params", "l2_updates"}


@pytest.mark.parametrize("name", ["classifier_fashion_mnist", "classifier_mnist"])
def test_tiny_config_trains_without_sample_grids(tmp_path, name):
  c = load_config(name, "tiny")
  c.num_steps = c.eval_every = c.checkpoint_every = c.sample_every = 1
  state, summary = train.train_and_evaluate(c, str(tmp_path))
  assert int(state.step) == 1 and np.isfinite(summary["train"]["train/loss"])
  assert set(summary["eval"]) == {"eval/accuracy", "eval/nll"}
  assert not (tmp_path / "samples").exists()
  assert (tmp_path / "checkpoints" / "1").exists()
