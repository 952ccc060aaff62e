"""Latent priors and latent-space walks shared by the latent-variable families (GAN, VAE)."""

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


def uniform_pm1(key: PRNGKey, shape: tuple[int, ...]) -> jax.Array:
  """U[-1, 1] draws: the GAN prior of DCGAN's and compare_gan's code."""
  return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)


# A latent prior by name -> draw(key, shape): gan.prior.
PRIORS = {"normal": jax.random.normal, "uniform": uniform_pm1}


def interpolation_grid(key: PRNGKey, num_rows: int, steps: int, latent_dim: int,
                       prior: str = "normal") -> jax.Array:
  """[num_rows · steps, latent_dim]: row r walks from one draw of `prior` (a key of PRIORS) to
  another in `steps` evenly spaced points, endpoints included; rows one after another, so an
  image grid with `steps` columns shows one walk per row. N(0, I) draws walk by slerp; U[-1, 1]
  draws by lerp, which stays inside the cube where slerp's arcs may leave it."""
  z0, z1 = PRIORS[prior](key, (2, num_rows, 1, latent_dim))
  t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
  walk = slerp(z0, z1, t) if prior == "normal" else (1.0 - t) * z0 + t * z1
  return walk.reshape(num_rows * steps, latent_dim)
