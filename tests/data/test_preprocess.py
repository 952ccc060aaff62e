"""jaxgen.data.preprocess: jit-side preprocessing modes and padding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data.preprocess import pad_to, preprocess


def test_binarize_is_a_fresh_bernoulli_draw():
  images = jnp.full((100, 28, 28, 1), 64, jnp.uint8)
  key_a, key_b = jax.random.split(jax.random.key(0))
  a = preprocess(images, key_a, "binarize")
  assert a.dtype == jnp.float32 and set(np.unique(a)) == {0.0, 1.0}
  p, n = 64 / 255, a.size
  assert abs(float(a.mean()) - p) < 4 * np.sqrt(p * (1 - p) / n)
  np.testing.assert_array_equal(a, preprocess(images, key_a, "binarize"))
  assert not np.array_equal(a, preprocess(images, key_b, "binarize"))


def test_dequantize_stays_in_its_bin():
  x = jnp.tile(jnp.arange(256, dtype=jnp.uint8), 400).reshape(-1, 16, 16, 1)
  y = preprocess(x, jax.random.key(1), "dequantize")
  lower = x.astype(jnp.float32) / 256
  assert bool((y >= lower).all()) and bool((y < lower + 1 / 256).all())
  assert abs(float((y - lower).mean()) * 256 - 0.5) < 0.01


def test_dequantize_never_reaches_one(monkeypatch):
  """The largest uniform draw below 1 would round (255 + u) / 256 up to 1.0 in float32."""
  below_one = np.nextafter(np.float32(1), np.float32(0))
  monkeypatch.setattr(jax.random, "uniform", lambda key, shape: jnp.full(shape, below_one))
  y = preprocess(jnp.array([255], jnp.uint8), jax.random.key(0), "dequantize")
  assert float(y[0]) < 1.0


def test_scales_and_jit():
  x = jnp.array([0, 128, 255], jnp.uint8)
  key = jax.random.key(0)
  fn = jax.jit(preprocess, static_argnames="mode")
  np.testing.assert_allclose(fn(x, key, mode="scale01"), [0, 128 / 255, 1], rtol=1e-6)
  np.testing.assert_allclose(fn(x, key, mode="scale11"), [-1, 128 / 127.5 - 1, 1], atol=1e-6)
  np.testing.assert_array_equal(fn(x, key, mode="none"), [0.0, 128.0, 255.0])
  with pytest.raises(ValueError, match="'scale';.*'scale01'"):
    preprocess(x, key, "scale")


def test_pad_to_centres():
  images = jnp.ones((2, 28, 28, 1))
  padded = pad_to(images, 32)
  assert padded.shape == (2, 32, 32, 1)
  np.testing.assert_array_equal(padded[:, 2:30, 2:30], images)
  assert float(padded.sum()) == float(images.sum())
  with pytest.raises(ValueError, match="28x28"):
    pad_to(images, 16)
