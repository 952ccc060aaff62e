"""Variational autoencoders: an encoder x -> (mean, logvar) of a diagonal Gaussian q(z|x) and a
decoder z -> likelihood parameters of shape (H, W, C * spec.outputs_per_channel).

Modules are deterministic: the method draws the noise and passes it in, so the PRNG policy
lives in one place (jaxgen/methods/vae.py).
"""

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import registry
from jaxgen.types import ModelSpec


Activation = Callable[[jax.Array], jax.Array]
Initializer = nn.initializers.Initializer

# model.activation -> the hidden units' nonlinearity.
ACTIVATIONS: dict[str, Activation] = {"relu": nn.relu, "tanh": nn.tanh}

# model.kernel_init -> every layer's weight initializer (biases start at zero): Flax's default,
# or Glorot & Bengio (2010)'s uniform (Burda et al. 2016).
KERNEL_INITS: dict[str, Initializer] = {"lecun_normal": nn.initializers.lecun_normal(),
                                        "glorot_uniform": nn.initializers.glorot_uniform()}


class MLPEncoder(nn.Module):
  hidden: Sequence[int]
  latent_dim: int
  activation: Activation = nn.relu
  kernel_init: Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      h = self.activation(nn.Dense(width, kernel_init=self.kernel_init)(h))
    out = nn.Dense(2 * self.latent_dim, kernel_init=self.kernel_init)(h)
    mean, logvar = jnp.split(out, 2, axis=-1)
    return mean, logvar


class MLPDecoder(nn.Module):
  hidden: Sequence[int]  # the encoder's widths; used in reverse to mirror it
  out_shape: tuple[int, int, int]
  activation: Activation = nn.relu
  kernel_init: Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h = z
    for width in reversed(self.hidden):
      h = self.activation(nn.Dense(width, kernel_init=self.kernel_init)(h))
    out = nn.Dense(math.prod(self.out_shape), kernel_init=self.kernel_init)(h)
    return out.reshape(z.shape[0], *self.out_shape)


class ConvEncoder(nn.Module):
  features: Sequence[int]
  latent_dim: int
  activation: Activation = nn.relu
  kernel_init: Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = x
    for f in self.features:
      h = self.activation(nn.Conv(f, (4, 4), strides=(2, 2), kernel_init=self.kernel_init)(h))
    out = nn.Dense(2 * self.latent_dim, kernel_init=self.kernel_init)(h.reshape(h.shape[0], -1))
    mean, logvar = jnp.split(out, 2, -1)
    return mean, logvar


class ConvDecoder(nn.Module):
  features: Sequence[int]  # the encoder's features; used in reverse to mirror it
  out_shape: tuple[int, int, int]
  activation: Activation = nn.relu
  kernel_init: Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    height, width, channels = self.out_shape
    down = 2 ** len(self.features)
    if height % down or width % down:
      raise ValueError(f"conv VAE needs H and W divisible by {down}, got {self.out_shape[:2]} "
                       "(pad the data, e.g. 28x28 -> 32x32)")
    init = self.kernel_init
    h = self.activation(nn.Dense(height // down * width // down * self.features[-1],
                                 kernel_init=init)(z))
    h = h.reshape(z.shape[0], height // down, width // down, self.features[-1])
    # Stride-2 ConvTranspose weight gradients are slow on XLA:CPU; fine on accelerators.
    for f in reversed(self.features[:-1]):
      h = self.activation(nn.ConvTranspose(f, (4, 4), strides=(2, 2), kernel_init=init)(h))
    return nn.ConvTranspose(channels, (4, 4), strides=(2, 2), kernel_init=init)(h)


class VAE(nn.Module):
  """Pairs an encoder and a decoder; `encode` and `decode` are callable alone via
  `apply(..., method="encode")`, and `__call__` runs both (and so initialises both)."""
  encoder: nn.Module
  decoder: nn.Module

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return self.encoder(x)

  def decode(self, z: jax.Array) -> jax.Array:
    return self.decoder(z)

  def __call__(self, x: jax.Array, eps: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """x [B, H, W, C], eps [B, latent] standard normal -> (decoder output, mean, logvar), with
    z = mean + exp(logvar / 2) * eps (the reparameterization trick)."""
    mean, logvar = self.encode(x)
    return self.decode(mean + jnp.exp(0.5 * logvar) * eps), mean, logvar


def _units(c: ml_collections.ConfigDict) -> dict:
  """The hidden nonlinearity and weight initializer that model.activation and
  model.kernel_init name."""
  return dict(activation=registry.resolve(c.activation, ACTIVATIONS, kind="activation"),
              kernel_init=registry.resolve(c.kernel_init, KERNEL_INITS, kind="kernel_init"))


def _out_shape(spec: ModelSpec) -> tuple[int, int, int]:
  height, width, channels = spec.image_shape
  return height, width, channels * spec.outputs_per_channel


def mlp(c: ml_collections.ConfigDict, spec: ModelSpec) -> VAE:
  """The classic MLP VAE: 784 -> 256 -> 256 -> (mean, logvar) and mirrored back for hidden =
  (256, 256) on MNIST; ReLU hidden units by default (Kingma & Welling 2014 and Burda et al.
  2016 use tanh: model.activation)."""
  hidden = tuple(c.hidden)
  return VAE(MLPEncoder(hidden, c.latent_dim, **_units(c)),
             MLPDecoder(hidden, _out_shape(spec), **_units(c)))


def conv(c: ml_collections.ConfigDict, spec: ModelSpec) -> VAE:
  """Stride-2 convolutions (32 -> 16 -> 8 -> 4 for three stages), mirrored by ConvTranspose."""
  features = tuple(c.features)
  return VAE(ConvEncoder(features, c.latent_dim, **_units(c)),
             ConvDecoder(features, _out_shape(spec), **_units(c)))


# name -> builder(config.model, spec). Builders rather than partials of one class: each family
# reads its own config key (mlp: hidden; conv: features).
MODELS: dict[str, Callable[[ml_collections.ConfigDict, ModelSpec], VAE]] = {
    "mlp": mlp,
    "conv": conv,
}
# name -> the keys its builder reads (latent_dim also by the method), with defaults.
_UNITS = dict(latent_dim=50, activation="relu", kernel_init="lecun_normal")
DEFAULTS = {
    "mlp": dict(hidden=(256, 256), **_UNITS),
    "conv": dict(features=(32, 64, 128), **_UNITS),
}


def default_config(name: str = "mlp") -> ml_collections.ConfigDict:
  return registry.model_config(name, DEFAULTS)


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> VAE:
  """`config.model` -> module; c.name is a key of MODELS or a "module:builder" path."""
  return registry.resolve(c.name, MODELS, kind="model")(c, spec)
