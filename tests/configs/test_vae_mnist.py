"""configs/vae_mnist.py: the burda and burda_iwae variants are Burda et al. (2016)'s protocol."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import load_config
from jaxgen import optim
from jaxgen.methods import vae
from jaxgen.types import DataSpec


@pytest.mark.parametrize("variant,train_k", [("burda", 1), ("burda_iwae", 50)])
def test_burda_variants_are_the_papers_protocol(variant, train_k):
  c = load_config("vae_mnist", variant)
  assert (c.data.name, c.data.train_split, c.data.eval_split, c.data.preprocess, c.data.pad_to) \
      == ("mnist", "train", "test", "binarize", 0)
  assert (c.model.name, c.model.hidden, c.model.activation, c.model.latent_dim) \
      == ("mlp", (200, 200), "tanh", 50)
  assert c.model.kernel_init == "glorot_uniform" and c.loss == "bernoulli" and c.beta == 1.0
  assert (c.batch_size, c.train_k, c.eval.iwae_k) == (20, train_k, 5000)
  o = c.optimizer
  assert (o.name, o.b1, o.b2, o.eps, o.weight_decay, o.grad_clip_norm, o.warmup_steps) \
      == ("adam", 0.9, 0.999, 1e-4, 0.0, 0.0, 0)
  # 3^i epochs at 0.001 · 10^(-i/7), i = 0..7, of 60,000 / 20 = 3,000 steps each.
  schedule = optim.learning_rate(o)
  epoch = 0
  for i in range(8):
    first, last = epoch * 3000, (epoch + 3 ** i) * 3000 - 1
    np.testing.assert_allclose([schedule(first), schedule(last)], 1e-3 * 10 ** (-i / 7),
                               rtol=1e-6)
    epoch += 3 ** i
  assert epoch == 3280 and c.num_steps == 3280 * 3000
  # 784-200-200-(50 + 50) and 50-200-200-784, all built.
  method = vae.make(c, DataSpec((28, 28, 1), 10))
  state = jax.eval_shape(method.init, jax.random.key(0), {"image": jnp.zeros((1, 28, 28, 1))})
  encoder = (784 * 200 + 200) + (200 * 200 + 200) + (200 * 100 + 100)
  decoder = (50 * 200 + 200) + (200 * 200 + 200) + (200 * 784 + 784)
  assert sum(math.prod(p.shape) for p in jax.tree.leaves(state.params)) == encoder + decoder
