"""A pixel model plugged in by import path ("uniform_pixel_model:UNIFORM") in the autoregressive
method's tests: all-zero logits, so every value of a subpixel is equally likely. Like
nan_method.py, it sits at the top of tests/, which is on sys.path."""

import types

import flax.linen as nn
import jax.numpy as jnp


class _Uniform(nn.Module):
  """All-zero logits (one unused parameter, so the optimizer has something to hold)."""
  num_outputs: int

  @nn.compact
  def __call__(self, x, labels=None):
    del labels
    scale = self.param("scale", nn.initializers.zeros_init(), ())
    return jnp.zeros((*x.shape, self.num_outputs)) * scale


UNIFORM = types.SimpleNamespace(
    make=lambda cfg, spec: _Uniform(spec.outputs_per_channel))
