"""DRAW (Gregor et al. 2015, "DRAW: A Recurrent Neural Network For Image Generation").

An LSTM encoder and an LSTM decoder run for T steps; each step reads from the image and the
error image x̂ = x - σ(c_{t-1}), draws z_t from the Gaussian posterior q(z_t|h^enc_t) and adds
the decoder's write to the canvas c_t. The final canvas holds Bernoulli logits. Reading and
writing are either whole-image (no attention) or through N×N grids of Gaussian filters (the
paper's selective attention, eqs. 19-29).

Modules are deterministic: the method draws the noise eps [T, B, latent] and passes it in, so
the PRNG policy lives in one place (jaxgen/methods/draw.py). Initial LSTM states and the canvas
are zeros (σ(c_0) = 0.5 everywhere).
"""

import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import registry
from jaxgen.types import ModelSpec

# Keeps a filter row finite when every pixel lies many σ from its centre (eq. 25's Z_x → 0).
FILTER_EPS = 1e-8


def attention_params(raw: jax.Array, height: int, width: int, n: int):
  """[..., 5] decoder outputs (g̃_x, g̃_y, log σ², log δ̃, log γ) -> (g_x, g_y, σ², δ, γ), each
  [..., 1], by eqs. 21-24: g_x = (A+1)/2 (g̃_x+1), g_y = (B+1)/2 (g̃_y+1) for an A×B (width ×
  height) image, δ = (max(A, B) - 1)/(N - 1) δ̃. Pixels are indexed from 1, so g̃ = 0 is the
  image centre, g̃ = ±1 one pixel beyond the first and last, and δ̃ = 1 spans the image."""
  gx_, gy_, log_sigma2, log_delta_, log_gamma = jnp.split(raw, 5, axis=-1)
  gx = (width + 1) / 2 * (gx_ + 1)
  gy = (height + 1) / 2 * (gy_ + 1)
  delta = (max(height, width) - 1) / max(n - 1, 1) * jnp.exp(log_delta_)
  return gx, gy, jnp.exp(log_sigma2), delta, jnp.exp(log_gamma)


def filterbank(center: jax.Array, delta: jax.Array, sigma2: jax.Array, size: int,
               n: int) -> jax.Array:
  """F [..., N, size] along one axis from center, delta, sigma2 [..., 1] (eqs. 19-20, 25-26):
  filter i (1..N) is a Gaussian over pixels a (1..size) centred at μ^i = g + (i - N/2 - 0.5) δ
  with variance σ², each row normalised to sum to 1 (up to FILTER_EPS)."""
  mu = center + (jnp.arange(1, n + 1) - n / 2 - 0.5) * delta  # [..., N]
  pixels = jnp.arange(1, size + 1, dtype=mu.dtype)
  f = jnp.exp(-jnp.square(pixels - mu[..., None]) / (2.0 * sigma2[..., None]))
  return f / (jnp.sum(f, axis=-1, keepdims=True) + FILTER_EPS)


def filters(raw: jax.Array, image_shape: tuple[int, int, int], n: int):
  """[B, 5] attention outputs -> (F_y [B, N, H], F_x [B, N, W], γ [B, 1])."""
  height, width, _ = image_shape
  gx, gy, sigma2, delta, gamma = attention_params(raw, height, width, n)
  return (filterbank(gy, delta, sigma2, height, n), filterbank(gx, delta, sigma2, width, n),
          gamma)


def read_glimpse(image: jax.Array, fy: jax.Array, fx: jax.Array) -> jax.Array:
  """F_y x F_xᵀ per example and channel: [B, H, W, C] -> [B, N, N, C]."""
  return jnp.einsum("bnh,bhwc,bmw->bnmc", fy, image, fx)


def write_glimpse(patch: jax.Array, fy: jax.Array, fx: jax.Array) -> jax.Array:
  """F_yᵀ w F_x per example and channel: [B, N, N, C] -> [B, H, W, C]."""
  return jnp.einsum("bnh,bnmc,bmw->bhwc", fy, patch, fx)


class FullRead(nn.Module):
  """read(x, x̂, h^dec) = [x, x̂]: the whole image and error image (eq. 17)."""

  @nn.compact
  def __call__(self, x: jax.Array, x_hat: jax.Array, h_dec: jax.Array) -> jax.Array:
    del h_dec
    return jnp.concatenate([x.reshape(x.shape[0], -1), x_hat.reshape(x.shape[0], -1)], -1)


class FullWrite(nn.Module):
  """write(h^dec) = W(h^dec): a full-size additive patch (eq. 18)."""
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, h_dec: jax.Array) -> jax.Array:
    return nn.Dense(math.prod(self.image_shape))(h_dec).reshape(-1, *self.image_shape)


class AttentiveRead(nn.Module):
  """read = γ [F_y x F_xᵀ, F_y x̂ F_xᵀ] with an N×N grid placed by a linear map of h^dec_{t-1}
  (eq. 27)."""
  image_shape: tuple[int, int, int]
  n: int

  @nn.compact
  def __call__(self, x: jax.Array, x_hat: jax.Array, h_dec: jax.Array) -> jax.Array:
    fy, fx, gamma = filters(nn.Dense(5, name="attention")(h_dec), self.image_shape, self.n)
    glimpse = jnp.concatenate([read_glimpse(x, fy, fx), read_glimpse(x_hat, fy, fx)], -1)
    return gamma * glimpse.reshape(x.shape[0], -1)


class AttentiveWrite(nn.Module):
  """write = 1/γ̂ F̂_yᵀ w_t F̂_x with an N×N patch w_t and its own attention parameters, both
  linear in h^dec_t (eqs. 28-29)."""
  image_shape: tuple[int, int, int]
  n: int

  @nn.compact
  def __call__(self, h_dec: jax.Array) -> jax.Array:
    channels = self.image_shape[-1]
    patch = nn.Dense(self.n * self.n * channels, name="patch")(h_dec)
    patch = patch.reshape(-1, self.n, self.n, channels)
    fy, fx, gamma = filters(nn.Dense(5, name="attention")(h_dec), self.image_shape, self.n)
    return write_glimpse(patch, fy, fx) / gamma[..., None, None]


class DRAW(nn.Module):
  """The recurrence of eqs. 3-8 (inference, `__call__`) and 13-15 (generation, `generate`),
  each one `nn.scan` over the T steps, so compile time does not grow with T. `__call__`
  initialises every parameter; `generate` uses the decoder's share of them."""
  image_shape: tuple[int, int, int]
  hidden: int  # LSTM units of the encoder and of the decoder
  latent_dim: int
  read: nn.Module
  write: nn.Module

  def setup(self):
    self.encoder = nn.OptimizedLSTMCell(self.hidden)
    self.decoder = nn.OptimizedLSTMCell(self.hidden)
    self.posterior = nn.Dense(2 * self.latent_dim)

  def _zeros(self, batch_size: int):
    lstm = (jnp.zeros((batch_size, self.hidden)), jnp.zeros((batch_size, self.hidden)))
    return lstm, jnp.zeros((batch_size, *self.image_shape))

  def _infer_step(self, carry, eps, x):
    enc, dec, canvas = carry
    h_dec = dec[1]
    r = self.read(x, x - nn.sigmoid(canvas), h_dec)
    enc, h_enc = self.encoder(enc, jnp.concatenate([r, h_dec], -1))
    mean, logvar = jnp.split(self.posterior(h_enc), 2, -1)
    dec, h_dec = self.decoder(dec, mean + jnp.exp(0.5 * logvar) * eps)
    return (enc, dec, canvas + self.write(h_dec)), (mean, logvar)

  def _generate_step(self, carry, z):
    dec, canvas = carry
    dec, h_dec = self.decoder(dec, z)
    canvas = canvas + self.write(h_dec)
    return (dec, canvas), canvas

  def __call__(self, x: jax.Array, eps: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """x [B, H, W, C] in {0, 1}, eps [T, B, latent] standard normal -> (final canvas logits
    [B, H, W, C], posterior mean [T, B, latent], logvar [T, B, latent]), with
    z_t = mean_t + exp(logvar_t / 2) * eps_t."""
    lstm, canvas = self._zeros(x.shape[0])
    scan = nn.scan(DRAW._infer_step, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=(0, nn.broadcast))
    (_, _, canvas), (mean, logvar) = scan(self, (lstm, lstm, canvas), eps, x)
    return canvas, mean, logvar

  def generate(self, z: jax.Array) -> jax.Array:
    """z [T, B, latent] (prior draws) -> canvas logits after every step [T, B, H, W, C]."""
    lstm, canvas = self._zeros(z.shape[1])
    scan = nn.scan(DRAW._generate_step, variable_broadcast="params",
                   split_rngs={"params": False})
    _, canvases = scan(self, (lstm, canvas), z)
    return canvases


def attention(c: ml_collections.ConfigDict, spec: ModelSpec) -> DRAW:
  """Selective attention: read_n × read_n read and write_n × write_n write glimpses."""
  image_shape = tuple(spec.image_shape)
  return DRAW(image_shape, c.hidden, c.latent_dim, AttentiveRead(image_shape, c.read_n),
              AttentiveWrite(image_shape, c.write_n))


def no_attention(c: ml_collections.ConfigDict, spec: ModelSpec) -> DRAW:
  """Whole-image read of [x, x̂] and a full-size write."""
  image_shape = tuple(spec.image_shape)
  return DRAW(image_shape, c.hidden, c.latent_dim, FullRead(), FullWrite(image_shape))


# name -> builder(config.model, spec), as in jaxgen.models.vae.
MODELS: dict[str, Callable[[ml_collections.ConfigDict, ModelSpec], DRAW]] = {
    "attention": attention,
    "no_attention": no_attention,
}
# name -> the keys its builder reads (steps, T, is read by the method), with defaults: the
# paper's MNIST model.
_RECURRENCE = dict(steps=64, hidden=256, latent_dim=100)
DEFAULTS = {
    "attention": dict(**_RECURRENCE, read_n=2, write_n=5),
    "no_attention": _RECURRENCE,
}


def default_config(name: str = "attention") -> ml_collections.ConfigDict:
  return registry.model_config(name, DEFAULTS)


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> DRAW:
  """`config.model` -> module; c.name is a key of MODELS or a "module:builder" path."""
  return registry.resolve(c.name, MODELS, kind="model")(c, spec)
