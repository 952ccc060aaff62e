"""Shared layers against Flax's: PhaseConvTranspose against nn.ConvTranspose, PatchConv against
nn.Conv to the second derivative."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import key
from jaxgen.models.layers import PatchConv, PhaseConvTranspose


@pytest.mark.parametrize("in_features,features,height,width", [(3, 5, 4, 4), (8, 1, 5, 7)])
def test_phase_conv_transpose_matches_flax(in_features, features, height, width):
  x = jax.random.normal(key(0), (2, height, width, in_features))
  ref = nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME")
  phase = PhaseConvTranspose(features)
  params = jax.jit(ref.init)(key(1), x)["params"]
  # Same names, shapes and initial values: checkpoints move between the two.
  jax.tree.map(np.testing.assert_array_equal, jax.jit(phase.init)(key(1), x)["params"],
               params)
  params["bias"] = 0.1 * jax.random.normal(key(2), params["bias"].shape)
  cotangent = jax.random.normal(key(3), (2, 2 * height, 2 * width, features))

  @jax.jit
  def value_and_grads(params, x):  # of <module(x), cotangent>, for both modules
    loss = lambda m, p, x: jnp.sum(m.apply({"params": p}, x) * cotangent)
    return [(m.apply({"params": params}, x), jax.grad(loss, argnums=(1, 2))(m, params, x))
            for m in (phase, ref)]

  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
               *value_and_grads(params, x))


@pytest.mark.parametrize("kernel_size,height,width", [(4, 28, 28), (4, 7, 7), (5, 32, 9)])
def test_patch_conv_matches_flax_to_the_second_derivative(kernel_size, height, width):
  """Values, gradients, and the weight gradient of a gradient-penalty-like loss (which
  differentiates the input gradient) equal nn.Conv's with padding SAME and stride 2."""
  x = jax.random.normal(key(0), (2, height, width, 3))
  ref = nn.Conv(5, (kernel_size,) * 2, strides=(2, 2), padding="SAME")
  patch = PatchConv(5, kernel_size, 2)
  params = jax.jit(ref.init)(key(1), x)["params"]
  jax.tree.map(np.testing.assert_array_equal, jax.jit(patch.init)(key(1), x)["params"], params)
  params["bias"] = 0.1 * jax.random.normal(key(2), params["bias"].shape)

  @jax.jit
  def derivatives(params, x):
    def penalty(m, p, x):  # ‖∇ₓ Σ tanh(conv(x))‖², as a gradient penalty sees the layer
      g = jax.grad(lambda x: jnp.sum(jnp.tanh(m.apply({"params": p}, x))))(x)
      return jnp.sum(g ** 2)
    return [(m.apply({"params": params}, x), jax.grad(penalty, argnums=(1, 2))(m, params, x))
            for m in (patch, ref)]

  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
               *derivatives(params, x))
