"""Latent-space walks shared by the latent-variable families (GAN, VAE)."""

import jax
import jax.numpy as jnp

from jaxgen.methods.base import PRNGKey


def slerp(z0: jax.Array, z1: jax.Array, t: jax.Array) -> jax.Array:
  """Spherical interpolation along the last axis (Shoemake 1985; White 2016 for latents):
  midpoints of two N(0, I) draws keep a typical norm, where lerp's shrink towards 0.
  Falls back to lerp for (anti)parallel endpoints, where the great circle is undefined."""
  cos = jnp.sum(z0 * z1, -1, keepdims=True) / (
      jnp.linalg.norm(z0, axis=-1, keepdims=True) * jnp.linalg.norm(z1, axis=-1, keepdims=True))
  omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
  sin = jnp.sin(omega)
  safe = sin > 1e-6
  sin = jnp.where(safe, sin, 1.0)
  w0 = jnp.where(safe, jnp.sin((1.0 - t) * omega) / sin, 1.0 - t)
  w1 = jnp.where(safe, jnp.sin(t * omega) / sin, t)
  return w0 * z0 + w1 * z1


def interpolation_grid(key: PRNGKey, num_rows: int, steps: int, latent_dim: int) -> jax.Array:
  """[num_rows · steps, latent_dim]: row r walks by slerp from one z ~ N(0, I) to another in
  `steps` evenly spaced points, endpoints included; rows one after another, so an image grid
  with `steps` columns shows one walk per row."""
  z0, z1 = jax.random.normal(key, (2, num_rows, 1, latent_dim))
  t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
  return slerp(z0, z1, t).reshape(num_rows * steps, latent_dim)
