"""VAE models: parameter counts, shapes, configurable activations and initializers, and the
sizes a conv VAE cannot mirror."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers.vae import run_config, small_config
from jaxgen.methods import vae
from jaxgen.models import vae as vae_models
from jaxgen.types import DataSpec, ModelSpec


def test_classic_mlp_vae_parameter_count():
  c = run_config()  # 784 -> 256 -> 256 -> (mu, logvar) of 50, and back
  method = vae.make(c, DataSpec((28, 28, 1), 10))
  state = jax.eval_shape(method.init, jax.random.key(0), {"image": jnp.zeros((1, 28, 28, 1))})
  encoder = (784 * 256 + 256) + (256 * 256 + 256) + (256 * 2 * 50 + 2 * 50)
  decoder = (50 * 256 + 256) + (256 * 256 + 256) + (256 * 784 + 784)
  assert encoder + decoder == 572_788
  assert sum(math.prod(p.shape) for p in jax.tree.leaves(state.params)) == 572_788


@pytest.mark.parametrize("channels,params_per_channel", [(1, 1), (3, 2)])
def test_conv_vae_output_shapes(channels, params_per_channel):
  c = small_config().model
  c.name, c.features = "conv", (4, 8, 16)
  model = vae_models.make(c, ModelSpec((32, 32, channels), 0, params_per_channel))
  x, eps = jnp.zeros((2, 32, 32, channels)), jnp.zeros((2, 3))
  variables = jax.eval_shape(model.init, jax.random.key(0), x, eps)
  out, mean, logvar = jax.eval_shape(model.apply, variables, x, eps)
  assert out.shape == (2, 32, 32, channels * params_per_channel)
  assert mean.shape == logvar.shape == (2, 3)


@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_activation_and_kernel_init_are_configurable(name):
  c = small_config().model
  c.name, c.features = name, (4, 8)
  c.activation, c.kernel_init = "tanh", "glorot_uniform"
  model = vae_models.make(c, ModelSpec((8, 8, 1), 0))
  x = jnp.asarray(np.random.default_rng(0).uniform(size=(2, 8, 8, 1)), jnp.float32)
  params = model.init(jax.random.key(0), x, jnp.zeros((2, 3)))["params"]
  layers = jax.tree.leaves(params, is_leaf=lambda p: isinstance(p, dict) and "kernel" in p)
  for w in (layer["kernel"] for layer in layers):  # Glorot & Bengio: U(±√(6/(fan_in+fan_out)))
    fan_in, fan_out = math.prod(w.shape[:-1]), math.prod(w.shape[:-2]) * w.shape[-1]
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound, (w.shape, bound)
  c.activation = "relu"
  relu_model = vae_models.make(c, ModelSpec((8, 8, 1), 0))
  tanh_out = model.apply({"params": params}, x, method="encode")
  assert not np.allclose(tanh_out[0], relu_model.apply({"params": params}, x, method="encode")[0])
  if name == "mlp":  # tanh(x W0 + b0) W1 + b1 -> (mean, logvar)
    enc = params["encoder"]
    h = np.tanh(np.asarray(x).reshape(2, -1) @ enc["Dense_0"]["kernel"] + enc["Dense_0"]["bias"])
    np.testing.assert_allclose(np.concatenate(tanh_out, -1),
                               h @ enc["Dense_1"]["kernel"] + enc["Dense_1"]["bias"],
                               rtol=1e-5, atol=1e-6)


def test_conv_vae_rejects_sizes_it_cannot_mirror():
  c = small_config().model
  c.name, c.features = "conv", (4, 8, 16)
  model = vae_models.make(c, ModelSpec((28, 28, 1), 0))
  with pytest.raises(ValueError, match="divisible by 8"):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)), jnp.zeros((1, 3)))
