"""The DRAW model: attention filterbanks against the paper's formulas, reading and writing, the
model's wiring and the paper's MNIST model's parameter count."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import binary_batch
from helpers.draw import LATENT, SPEC, STEPS, run_config, small_config
from jaxgen.methods import draw
from jaxgen.models import draw as draw_models
from jaxgen.types import DataSpec, ModelSpec


def raw_attention(gx, gy, sigma2, delta, gamma, height, width, n):
  """The linear outputs (g̃_x, g̃_y, log σ², log δ̃, log γ) that place a grid by eqs. 21-24."""
  return jnp.array([2 * gx / (width + 1) - 1, 2 * gy / (height + 1) - 1, math.log(sigma2),
                    math.log(delta * (n - 1) / (max(height, width) - 1)), math.log(gamma)])


def test_attention_params_follow_the_papers_formulas():
  # g̃ = 0 is the centre of an A×B = 10×6 image; δ̃ = 1 spreads N filters over max(A, B) pixels.
  gx, gy, sigma2, delta, gamma = draw_models.attention_params(
      jnp.array([0.0, -1.0, math.log(2.0), 0.0, math.log(3.0)]), height=6, width=10, n=4)
  np.testing.assert_allclose([gx[0], gy[0], sigma2[0], delta[0], gamma[0]],
                             [5.5, 0.0, 2.0, 3.0, 3.0], rtol=1e-6)
  raw = raw_attention(7.0, 2.5, 0.3, 1.5, 2.0, height=6, width=10, n=4)
  out = draw_models.attention_params(raw, height=6, width=10, n=4)
  np.testing.assert_allclose([o[0] for o in out], [7.0, 2.5, 0.3, 1.5, 2.0], rtol=1e-5)


@pytest.mark.parametrize("center,delta,sigma2,n", [(14.5, 1.0, 0.5, 4), (14.0, 3.0, 1.0, 5),
                                                   (9.0, 2.5, 2.0, 2)])
def test_filters_sum_to_one_and_centre_where_g_and_delta_put_them(center, delta, sigma2, n):
  f = np.asarray(draw_models.filterbank(jnp.array([center]), jnp.array([delta]),
                                        jnp.array([sigma2]), 28, n))
  assert f.shape == (n, 28)
  np.testing.assert_allclose(f.sum(-1), 1.0, rtol=1e-6)
  mu = center + (np.arange(1, n + 1) - n / 2 - 0.5) * delta  # eq. 19, filters i = 1..N
  pixels = np.arange(1, 29)  # a = 1..A, so g = (A + 1) / 2 is the middle
  np.testing.assert_array_equal(pixels[np.argmax(f, -1)], np.round(mu))  # no μ on a half pixel
  np.testing.assert_allclose(f @ pixels, mu, atol=1e-4)  # far from the borders: symmetric
  np.testing.assert_allclose(np.sum(f * (pixels - mu[:, None]) ** 2, -1), np.full(n, sigma2),
                             rtol=1e-2)


def test_read_then_write_with_matching_filters_restores_a_patch_of_a_smooth_image():
  height = width = 32
  n, gamma = 12, 2.0
  yy, xx = np.mgrid[0:height, 0:width] / 31.0
  image = jnp.asarray((0.5 + 0.3 * np.sin(3 * xx) * np.cos(2 * yy))[None, :, :, None],
                      jnp.float32)
  # δ = 1 and a narrow σ: 12 filters sit on pixels 11..22 (1-indexed) of both axes.
  raw = raw_attention(16.5, 16.5, 0.05, 1.0, gamma, height, width, n)
  attend = {"kernel": jnp.zeros((1, 5)), "bias": raw}
  read = draw_models.AttentiveRead((height, width, 1), n).apply(
      {"params": {"attention": attend}}, image, jnp.zeros_like(image), jnp.zeros((1, 1)))
  glimpse = read.reshape(n, n, 2)[..., 0]  # [x, x̂] glimpses are concatenated channels
  np.testing.assert_allclose(glimpse / gamma, image[0, 10:22, 10:22, 0], atol=2e-3)
  written = draw_models.AttentiveWrite((height, width, 1), n).apply(
      {"params": {"attention": attend, "patch": {"kernel": jnp.zeros((1, n * n)),
                                                 "bias": glimpse.reshape(-1)}}},
      jnp.zeros((1, 1)))
  region = np.zeros((height, width), bool)
  region[10:22, 10:22] = True
  np.testing.assert_allclose(written[0, ..., 0][region], image[0, ..., 0][region], atol=2e-3)
  assert float(jnp.max(jnp.abs(written[0, ..., 0][~region]))) < 0.01


def test_no_attention_read_sees_the_whole_image():
  x = binary_batch(2, SPEC.image_shape)["image"]
  x_hat = x - 0.5
  r = draw_models.FullRead().apply({}, x, x_hat, jnp.zeros((2, 16)))
  np.testing.assert_array_equal(r, jnp.concatenate([x.reshape(2, -1), x_hat.reshape(2, -1)], -1))
  # And through the model: the first posterior depends on every pixel.
  c = small_config("no_attention")
  model = draw_models.make(c.model, ModelSpec.of(SPEC))
  eps = jnp.zeros((STEPS, 2, LATENT))
  params = model.init(jax.random.key(0), x, eps)
  grad = jax.grad(lambda x: jnp.sum(model.apply(params, x, eps)[1][0]))(x)
  assert bool(jnp.all(grad != 0.0))


def test_paper_mnist_model_parameter_count():
  method = draw.make(run_config(), DataSpec((28, 28, 1), 10))
  state = jax.eval_shape(method.init, jax.random.key(0), {"image": jnp.zeros((1, 28, 28, 1))})
  lstm = lambda inputs, units: 4 * (inputs * units + units * units + units)
  encoder = lstm(2 * 2 * 2 + 256, 256)  # [read of x, read of x̂] (2×2 each), h^dec_{t-1}
  decoder = lstm(100, 256)
  posterior = 256 * 2 * 100 + 2 * 100
  attention = 256 * 5 + 5  # one for reading, one for writing
  patch = 256 * 25 + 25  # 5×5 write
  assert encoder + decoder + posterior + 2 * attention + patch == 959_467
  assert sum(math.prod(p.shape) for p in jax.tree.leaves(state.params)) == 959_467
