"""configs/wgan_gp_fashion_mnist.py: the critic, the penalty and the budget of Gulrajani et al."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import load_config
from helpers.gan import image_batch
from jaxgen import losses
from jaxgen.methods import gan
from jaxgen.models import gan as gan_models
from jaxgen.types import DataSpec


def _penalty_example_by_example(critic, real, fake, key):
  """losses.gradient_penalty written out with each interpolate scored alone (a batch of one)."""
  eps = jax.random.uniform(key, (real.shape[0], 1, 1, 1))
  x_hat = eps * real + (1.0 - eps) * fake
  grads = [jax.grad(lambda x: critic(x)[0])(x_hat[i:i + 1]) for i in range(real.shape[0])]
  return jnp.array([(jnp.linalg.norm(g) - 1.0) ** 2 for g in grads])


@pytest.mark.parametrize("d_norm", ["none", "batch"])
def test_wgan_gp_config_has_the_papers_critic(d_norm):
  """configs/wgan_gp_fashion_mnist.py against Gulrajani et al.'s gan_mnist.py: critic of 5x5
  stride-2 convolutions of 64, 128, 256 channels, LeakyReLU 0.2, no normalization, a linear
  output; 5 critic steps of 50 real images each, λ = 10, z of 128, 200k generator steps. Without
  batch norm the penalty sees each interpolate's own gradient; with it (the control) not."""
  c = load_config("wgan_gp_fashion_mnist", "")
  assert (c.loss, c.gan.n_critic, c.gan.gp_weight, c.batch_size // c.gan.n_critic,
          c.model.latent_dim, c.num_steps) == ("wgan_gp", 5, 10.0, 50, 128, 200_000)
  assert (c.model.d_norm, c.model.d_kernel_size, c.model.spectral_norm) == ("none", 5, False)
  spec = DataSpec((32, 32, 1), 10)
  state = jax.eval_shape(gan.make(c, spec).init, jax.random.key(0), image_batch(2, spec))
  assert state.collections["discriminator"] == {}  # no batch_stats: no batch norm (nor SN)
  kernels = {k.shape for k in jax.tree.leaves(state.params["discriminator"]) if k.ndim > 1}
  assert kernels == {(5, 5, 1, 64), (5, 5, 64, 128), (5, 5, 128, 256), (4 * 4 * 256, 1)}

  tiny = load_config("wgan_gp_fashion_mnist", "tiny")
  tiny.model.d_norm = d_norm
  _, discriminator = gan_models.make(tiny.model, spec)
  real, fake = (image_batch(4, spec, seed=s)["image"] for s in (1, 2))
  variables = jax.jit(lambda k: discriminator.init(k, real, train=True))(jax.random.key(3))
  collections = {k: v for k, v in variables.items() if k != "params"}
  critic = lambda x: gan._apply(discriminator, variables["params"], collections, x, None,
                                train=True)[0]  # as the method's D step calls it
  key = jax.random.key(4)
  penalty = losses.gradient_penalty(critic, real, fake, key)
  expected = _penalty_example_by_example(critic, real, fake, key)
  if d_norm == "none":
    np.testing.assert_allclose(penalty, expected, rtol=1e-4, atol=1e-6)
  else:
    assert np.abs(penalty - expected).max() > 1e-3 * np.abs(expected).max()
