"""A method plugged in by import path ("nan_method:make"): the VAE, except that from step 14
on its reported loss is NaN, as after a divergence."""

import jax.numpy as jnp

from jaxgen.methods import vae


def make(config, spec):
  method = vae.make(config, spec)

  def train_step(state, batch, key):
    new_state, metrics = method.train_step(state, batch, key)
    metrics["loss"] = jnp.where(state.step >= 13, jnp.nan, metrics["loss"])
    return new_state, metrics

  return method._replace(train_step=train_step)
