"""A small DRAW on 8×8 binary images, for the tests of the DRAW model and method."""

import jax.numpy as jnp
import numpy as np

from jaxgen import config as config_lib
from jaxgen.methods import draw
from jaxgen.types import DataSpec

SPEC = DataSpec(image_shape=(8, 8, 1), num_classes=10)
STEPS, LATENT = 3, 4


def run_config():
  """A whole run config for DRAW (make reads data.preprocess too)."""
  c = config_lib.base()
  c.update(draw.default_method_config())
  c.method = "draw"
  return c


def small_config(name="attention", **overrides):
  """T = 3 steps of 2×2 reads and 8×8 writes: on 8×8 images a write grid spans every pixel
  from the start (δ = 1), so 100 steps at lr 1e-2 already use the latents (KL ~2 nats)."""
  c = run_config()
  c.model.update(dict(name=name, steps=STEPS, hidden=16, latent_dim=LATENT, read_n=2,
                      write_n=8))
  c.optimizer.lr = 1e-2
  c.update(overrides)
  return c


def binary_batch(batch_size, shape=SPEC.image_shape):
  rng = np.random.default_rng(0)
  # Two prototypes with pixel noise: structure an encoder can learn and a posterior to infer.
  protos = rng.uniform(size=(2, *shape)) < 0.5
  flips = rng.uniform(size=(batch_size, *shape)) < 0.1
  images = protos[rng.integers(0, 2, batch_size)] ^ flips
  return {"image": jnp.asarray(images, jnp.float32), "label": jnp.zeros(batch_size, jnp.int32)}
