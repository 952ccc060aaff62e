"""A small DRAW on 8×8 binary images, for the tests of the DRAW model and method."""

from jaxgen import config as config_lib
from jaxgen.methods import draw
from jaxgen.types import DataSpec

SPEC = DataSpec(image_shape=(8, 8, 1), num_classes=10)
STEPS, LATENT = 3, 4


def run_config():
  """A whole run config for DRAW (make reads data.preprocess too)."""
  c = config_lib.base()
  c.update(draw.default_method_config())
  c.method = "draw"
  return c


def small_config(name="attention", **overrides):
  """T = 3 steps of 2×2 reads and 8×8 writes: on 8×8 images a write grid spans every pixel
  from the start (δ = 1), so 100 steps at lr 1e-2 already use the latents (KL ~2 nats)."""
  c = run_config()
  c.model.update(dict(name=name, steps=STEPS, hidden=16, latent_dim=LATENT, read_n=2,
                      write_n=8))
  c.optimizer.lr = 1e-2
  c.update(overrides)
  return c

