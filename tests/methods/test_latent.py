"""jaxgen.methods.latent: spherical interpolation between latents."""

import jax.numpy as jnp
import numpy as np

from jaxgen.methods import latent


def test_slerp_keeps_the_norm_between_orthogonal_latents():
  z0, z1 = jnp.array([3.0, 0.0]), jnp.array([0.0, 3.0])
  t = jnp.linspace(0, 1, 7)[:, None]
  path = latent.slerp(z0, z1, t)
  np.testing.assert_allclose(jnp.linalg.norm(path, axis=-1), 3.0, rtol=1e-6)
  np.testing.assert_allclose(path[3], [3 / np.sqrt(2), 3 / np.sqrt(2)], rtol=1e-6)
  np.testing.assert_allclose(latent.slerp(z0, z0, t), jnp.broadcast_to(z0, (7, 2)), rtol=1e-6)
