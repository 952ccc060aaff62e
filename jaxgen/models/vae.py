"""Variational autoencoders: an encoder x -> (mean, logvar) of a diagonal Gaussian q(z|x) and a
decoder z -> likelihood parameters of shape `out_shape` = (H, W, C * params_per_channel).

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


class MLPEncoder(nn.Module):
  hidden: Sequence[int]
  latent_dim: int

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      h = nn.relu(nn.Dense(width)(h))
    mean, logvar = jnp.split(nn.Dense(2 * self.latent_dim)(h), 2, axis=-1)
    return mean, logvar


class MLPDecoder(nn.Module):
  hidden: Sequence[int]  # the encoder's widths; used in reverse to mirror it
  out_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h = z
    for width in reversed(self.hidden):
      h = nn.relu(nn.Dense(width)(h))
    return nn.Dense(math.prod(self.out_shape))(h).reshape(z.shape[0], *self.out_shape)


class ConvEncoder(nn.Module):
  features: Sequence[int]
  latent_dim: int

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = x
    for f in self.features:
      h = nn.relu(nn.Conv(f, (4, 4), strides=(2, 2))(h))
    mean, logvar = jnp.split(nn.Dense(2 * self.latent_dim)(h.reshape(h.shape[0], -1)), 2, -1)
    return mean, logvar


class ConvDecoder(nn.Module):
  features: Sequence[int]  # the encoder's features; used in reverse to mirror it
  out_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    height, width, channels = self.out_shape
    down = 2 ** len(self.features)
    if height % down or width % down:
      raise ValueError(f"conv VAE needs H and W divisible by {down}, got {self.out_shape[:2]} "
                       "(pad the data, e.g. 28x28 -> 32x32)")
    h = nn.relu(nn.Dense(height // down * width // down * self.features[-1])(z))
    h = h.reshape(z.shape[0], height // down, width // down, self.features[-1])
    # Stride-2 ConvTranspose weight gradients are slow on XLA:CPU; fine on accelerators.
    for f in reversed(self.features[:-1]):
      h = nn.relu(nn.ConvTranspose(f, (4, 4), strides=(2, 2))(h))
    return nn.ConvTranspose(channels, (4, 4), strides=(2, 2))(h)


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


def mlp(c: ml_collections.ConfigDict, out_shape: tuple[int, int, int]) -> VAE:
  """The classic MLP VAE: 784 -> 256 -> 256 -> (mean, logvar) and mirrored back for hidden =
  (256, 256) on MNIST, with ReLU hidden units rather than Kingma & Welling (2014)'s tanh."""
  hidden = tuple(c.hidden)
  return VAE(MLPEncoder(hidden, c.latent_dim), MLPDecoder(hidden, tuple(out_shape)))


def conv(c: ml_collections.ConfigDict, out_shape: tuple[int, int, int]) -> VAE:
  """Stride-2 convolutions (32 -> 16 -> 8 -> 4 for three stages), mirrored by ConvTranspose."""
  features = tuple(c.features)
  return VAE(ConvEncoder(features, c.latent_dim), ConvDecoder(features, tuple(out_shape)))


# name -> builder(config.model, out_shape). Builders rather than partials of one class: each
# family reads its own config key (mlp: hidden; conv: features).
MODELS: dict[str, Callable[[ml_collections.ConfigDict, tuple[int, int, int]], VAE]] = {
    "mlp": mlp,
    "conv": conv,
}


def make(c: ml_collections.ConfigDict, out_shape: tuple[int, int, int]) -> VAE:
  """`config.model` -> module; c.name is a key of MODELS or a "module:builder" path."""
  return registry.resolve(c.name, MODELS, kind="model")(c, out_shape)
