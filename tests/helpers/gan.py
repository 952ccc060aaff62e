"""Batches of images and labels for the tests of the GAN method and configs."""

import jax.numpy as jnp
import numpy as np

from jaxgen.types import DataSpec

SPEC = DataSpec(image_shape=(4, 4, 1), num_classes=3)


def image_batch(batch_size, spec=SPEC, seed=0):
  rng = np.random.default_rng(seed)
  return {"image": jnp.asarray(rng.uniform(-1, 1, (batch_size, *spec.image_shape)), jnp.float32),
          "label": jnp.asarray(rng.integers(0, max(spec.num_classes, 1), batch_size), jnp.int32)}
