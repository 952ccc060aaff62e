"""PixelRNN (Row LSTM, Diagonal BiLSTM) and the row LSTM baseline: causality and receptive
fields from exact Jacobians, class conditioning, the skew, and the cached samplers (both
PixelRNNs', row_rnn's) against the method's uncached reference."""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen.methods import autoregressive
from jaxgen.models import pixelrnn, row_rnn
from jaxgen.types import ModelSpec

ARCHS = ["row_lstm", "diagonal_bilstm", "row_rnn"]
HEIGHT, WIDTH = 5, 9  # not square (the skew), and wide enough for the Row LSTM's blind spot


def _model(name, channels, num_outputs=2, num_classes=0, **overrides):
  """Wide enough (12 features, 48 output units) that no path is cut by all of a channel
  group's ReLUs being inactive at once: the zero derivatives left are structural."""
  c = ml_collections.ConfigDict(dict(name=name, features=12, num_layers=2, kernel_size=3,
                                     out_features=48, conditional=num_classes > 0))
  c.update(overrides)
  file = row_rnn if name == "row_rnn" else pixelrnn
  # The pixel models read only C of the image shape.
  return file.make(c, ModelSpec((None, None, channels), num_classes, num_outputs))


def _variables(model, x, labels=None, scale=1.5):
  """Random variables, N(0, scale² / fan-in), biases and class embeddings included (zero at
  init), so that zero derivatives are structural and labels matter; drawn by NumPy, as
  compiling one jax.random draw per shape would take most of this file's time."""
  rng = np.random.default_rng(0)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x, labels)
  return jax.tree.map(
      lambda s: jnp.asarray(rng.normal(size=s.shape) * scale / np.sqrt(s.size // s.shape[-1]),
                            jnp.float32), shapes)


@functools.cache
def _dependence(name, channels, **overrides):
  """[N, N] bool over the N = H·W·C subpixels in raster order: [p, q] is whether any of the
  K = 2 logits of subpixel p has a non-zero derivative with respect to input subpixel q (an
  exact Jacobian). K = 2 also checks the logit layout (feature k·C + c, `split_channels`)."""
  shape = (1, HEIGHT, WIDTH, channels)
  model = _model(name, channels, **overrides)
  x = jnp.asarray(np.random.default_rng(1).normal(size=shape), jnp.float32)
  variables = _variables(model, x)
  assert jax.eval_shape(model.apply, variables, x).shape == (*shape, 2)
  jac = jax.jit(jax.jacrev(lambda v: model.apply(variables, v[None])[0]))(x[0])
  n = HEIGHT * WIDTH * channels
  return np.asarray(jnp.abs(jac).max(axis=3) > 0).reshape(n, n)


def _subpixels(channels):
  """Row, column and channel of each subpixel, in raster order."""
  return np.unravel_index(np.arange(HEIGHT * WIDTH * channels), (HEIGHT, WIDTH, channels))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", ARCHS)
def test_logits_never_see_the_current_or_a_later_subpixel(name, channels):
  """At every position, first and last columns included: the derivative of logits[i, j, c]
  with respect to every subpixel at or after (i, j, c) in raster order (channels c, c + 1, ...
  of the same pixel too) is exactly zero."""
  seen = _dependence(name, channels)
  assert not np.triu(seen).any(), np.argwhere(np.triu(seen))[:5]
  assert seen.sum() > 0


@pytest.mark.parametrize("channels", [1, 3])
def test_diagonal_bilstm_sees_every_earlier_subpixel(channels):
  """No blind spot: logits[i, j, c] depend on every subpixel before (i, j, c). The last
  channel of each row's last pixel reaches the start of the next row only through the
  right-to-left direction's reading of the data (see pixelrnn.py)."""
  seen = _dependence("diagonal_bilstm", channels)
  past = np.tril(np.ones_like(seen), -1)
  assert np.array_equal(seen, past), np.argwhere(past & ~seen)[:5]


@pytest.mark.parametrize("channels,num_layers", [(1, 1), (1, 2), (3, 2)])
def test_row_lstm_sees_exactly_the_triangle_above(channels, num_layers):
  """With L layers after the 7×7 mask-A convolution, logits[i, j, c] see row i - e (e >= 1) at
  columns j - e - L - 3 .. j + e + 2 (the width-3 state-to-state convolution widens the cone a
  column either side per row; the 1×3 input-to-state adds one column to the left per layer;
  the 7×7 convolution 3 either side), row i at columns j - L - 3 .. j - 1, every channel of
  those pixels, and x[i, j, :c]; nothing else: the Row LSTM's known blind spot."""
  seen = _dependence("row_lstm", channels, num_layers=num_layers)
  rows, cols, chans = _subpixels(channels)
  e = rows[:, None] - rows[None, :]  # [p, q]: how many rows q is above p
  k = cols[None, :] - cols[:, None]  # q's column offset from p's
  expected = (e >= 1) & (k >= -e - num_layers - 3) & (k <= e + 2)
  expected |= (e == 0) & (k >= -num_layers - 3) & (k <= -1)
  expected |= (e == 0) & (k == 0) & (chans[None, :] < chans[:, None])
  assert np.array_equal(seen, expected), np.argwhere(seen != expected)[:5]
  assert (np.tril(np.ones_like(seen), -1) & ~expected).any()  # there is a blind spot


@pytest.mark.parametrize("channels", [1, 3])
def test_row_rnn_sees_every_pixel_of_every_earlier_row_and_nothing_else(channels):
  rows = _subpixels(channels)[0]
  assert np.array_equal(_dependence("row_rnn", channels), rows[:, None] > rows[None, :])


@pytest.mark.parametrize("name", ARCHS)
def test_labels_condition_only_conditional_models(name):
  x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 5, 3)), jnp.float32)
  a, b = jnp.array([1, 2]), jnp.array([3, 2])
  for conditional in (True, False):
    model = _model(name, 3, num_outputs=4, num_classes=10, conditional=conditional)
    variables = _variables(model, x, a)
    apply = jax.jit(model.apply)
    la, lb = np.asarray(apply(variables, x, a)), np.asarray(apply(variables, x, b))
    if conditional:
      assert not np.allclose(la[0], lb[0], atol=1e-3)
      np.testing.assert_array_equal(la[1], lb[1])  # the same label, the same logits
      with pytest.raises(ValueError, match="needs labels"):
        jax.eval_shape(model.apply, variables, x)
    else:
      np.testing.assert_array_equal(la, lb)
      np.testing.assert_array_equal(la, apply(variables, x))


@pytest.mark.parametrize("name", ["row_lstm", "diagonal_bilstm"])
def test_features_must_be_a_multiple_of_the_channels(name):
  model = _model(name, 3, features=4)
  with pytest.raises(ValueError, match=r"features \(4\) must be a multiple of the data channels"):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 4, 4, 3)))


def test_skew_shifts_row_r_right_by_r_and_unskew_inverts_it():
  x = np.random.default_rng(0).normal(size=(2, 3, 4, 5, 2)).astype(np.float32)  # leading axes
  s = np.asarray(pixelrnn.skew(x))
  assert s.shape == (2, 3, 4, 5 + 4 - 1, 2)
  expected = np.zeros_like(s)
  for r in range(4):
    expected[..., r, r:r + 5, :] = x[..., r, :, :]
  np.testing.assert_array_equal(s, expected)
  np.testing.assert_array_equal(pixelrnn.unskew(jnp.asarray(s), 5), x)


@pytest.mark.parametrize("head,channels,conditional",
                         [("bernoulli", 1, False), ("softmax256", 3, True)])
def test_row_rnn_cached_sampling_gives_the_uncached_samples(head, channels, conditional):
  shape = (3, 5, 4, channels)
  draw = autoregressive.HEADS[head].draw
  model = _model("row_rnn", channels, autoregressive.HEADS[head].num_outputs,
                 num_classes=10 if conditional else 0, features=8)
  labels = jnp.array([1, 7, 2]) if conditional else None
  variables = _variables(model, jnp.zeros(shape), labels)
  cached, uncached = (jax.jit(lambda key, f=f: f(model, variables, key, shape, labels, draw))
                      for f in (row_rnn.sample_cached, autoregressive.sample_uncached))
  samples = np.asarray(cached(jax.random.key(5)))
  np.testing.assert_array_equal(samples, uncached(jax.random.key(5)))
  np.testing.assert_array_equal(samples, cached(jax.random.key(5)))
  assert not np.array_equal(samples, cached(jax.random.key(6)))
  values = samples if head == "bernoulli" else (samples + 1.0) * 127.5  # inputs -> values
  np.testing.assert_allclose(values, np.round(values), atol=1e-4)
  assert values.min() >= 0 and values.max() <= (1 if head == "bernoulli" else 255)
  assert len(np.unique(values)) > 1


def _pixelrnn_samplers(name, shape, num_outputs, labels, draw):
  """Jitted (cached, uncached) samplers of a key for a PixelRNN with random variables."""
  model = _model(name, shape[-1], num_outputs, num_classes=0 if labels is None else 10)
  variables = _variables(model, jnp.zeros(shape), labels)
  return (jax.jit(lambda key, f=f: f(model, variables, key, shape, labels, draw))
          for f in (pixelrnn.sample_cached, autoregressive.sample_uncached))


@pytest.mark.parametrize("head,channels,conditional",
                         [("bernoulli", 1, False), ("softmax256", 3, True)])
@pytest.mark.parametrize("name", ["row_lstm", "diagonal_bilstm"])
def test_cached_sampling_gives_the_reference_logits_and_samples(name, head, channels,
                                                                conditional):
  """The same logits (to float rounding) and samples as the whole model per subpixel, on a map
  wider than the convolutions' reach, so that stale cache entries (the row before's, right of
  the pixel) would show."""
  shape = (2, 4, 9, channels)
  num_outputs = autoregressive.HEADS[head].num_outputs
  labels = jnp.array([3, 8]) if conditional else None
  w = jax.random.normal(jax.random.key(4), (num_outputs,))
  # A draw smooth in all K logits (and in a number from its key): equal outputs mean equal
  # logits at every step.
  smooth = lambda key, logits: jnp.tanh(logits @ w / np.sqrt(num_outputs)
                                        + jax.random.normal(key, logits.shape[:1]))
  for draw, check in [(smooth, lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5)),
                      (autoregressive.HEADS[head].draw, np.testing.assert_array_equal)]:
    cached, uncached = _pixelrnn_samplers(name, shape, num_outputs, labels, draw)
    samples = np.asarray(cached(jax.random.key(5)))
    check(samples, np.asarray(uncached(jax.random.key(5))))
    assert len(np.unique(samples)) > 1


@pytest.mark.parametrize("name", ["row_lstm", "diagonal_bilstm"])
def test_cached_sampling_is_reproducible(name):
  cached, _ = _pixelrnn_samplers(name, (3, 4, 5, 1), 1, None,
                                 autoregressive.HEADS["bernoulli"].draw)
  a = np.asarray(cached(jax.random.key(1)))
  assert set(np.unique(a)) == {0.0, 1.0}
  np.testing.assert_array_equal(a, cached(jax.random.key(1)))
  assert not np.array_equal(a, cached(jax.random.key(2)))
