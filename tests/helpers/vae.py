"""Run configs of a small VAE, for the tests of the VAE's models and method."""

from jaxgen import config as config_lib
from jaxgen.methods import vae


def run_config():
  """A whole run config for the VAE (make reads data.preprocess too)."""
  c = config_lib.base()
  c.update(vae.default_method_config())
  return c


def small_config(**overrides):
  c = run_config()
  c.model.latent_dim = 3
  c.model.hidden = (32,)
  c.update(overrides)
  return c
