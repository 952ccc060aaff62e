"""PixelCNN and Gated PixelCNN: causality in raster and channel order by Jacobians, the exact
receptive fields (PixelCNN's blind spot, none in the gated model), class conditioning, and the
cached samplers against the whole-model-per-subpixel reference."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen.methods.autoregressive import sample_uncached
from jaxgen.models import gated_pixelcnn, pixelcnn
from jaxgen.types import ModelSpec

FILES = {"pixelcnn": pixelcnn, "gated_pixelcnn": gated_pixelcnn}


def _model(name, channels, num_outputs=2, num_classes=0, **overrides):
  c = ml_collections.ConfigDict(dict(name=name, features=4 * channels, num_layers=2,
                                     kernel_size=3, out_features=8 * channels,
                                     conditional=num_classes > 0))
  c.update(overrides)
  # The pixel models read only C of the image shape.
  return FILES[name].make(c, ModelSpec((None, None, channels), num_classes, num_outputs))


def _variables(model, shape, labels=None, bias_scale=0.0):
  """Random parameters: N(0, 1 / fan-in) kernels, as lecun_normal draws them, N(0, 0.5²) class
  embeddings (zero at init: labels would not matter) and N(0, bias_scale²) biases. Zero biases
  suit the dependence tests: each ReLU is then live for about half the inputs, so a batch of
  images cannot miss a dependence by dead units alone. Only the shapes come from `init`:
  compiling it takes seconds on 2 cores."""
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros(shape), labels)
  rng = np.random.default_rng(0)

  def draw(path, leaf):
    name = path[-1].key
    scale = {"kernel": 1.0 / np.sqrt(np.prod(leaf.shape[:-1])), "embedding": 0.5,
             "bias": bias_scale}[name]
    return jnp.asarray(scale * rng.normal(size=leaf.shape), jnp.float32)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def _seen(model, variables, x):
  """Which subpixels each subpixel's logits depend on, for some image of the batch x (a ReLU
  dead at one image can hide a dependence): [H, W, C (out), H, W, C (in)] booleans."""
  jac = jax.jit(jax.vmap(jax.jacrev(lambda v: model.apply(variables, v[None])[0])))(x)
  return np.abs(np.asarray(jac)).sum(axis=(0, 4)) != 0


@pytest.mark.parametrize("name,channels,features", [
    ("pixelcnn", 1, 4), ("pixelcnn", 3, 12), ("pixelcnn", 3, 8),  # uneven channel groups
    ("gated_pixelcnn", 1, 4), ("gated_pixelcnn", 3, 12)])
def test_logits_see_only_earlier_subpixels(name, channels, features):
  height, width = 5, 6
  model = _model(name, channels, features=features)
  x = jax.random.normal(jax.random.key(2), (8, height, width, channels))
  n = height * width * channels
  # [subpixel out, subpixel in], both in raster/channel order.
  seen = _seen(model, _variables(model, x.shape), x).reshape(n, n)
  assert not np.any(np.triu(seen)), "a subpixel's logits see it or a later subpixel"
  # The subpixel just before is seen (x[i, j, c - 1], or the pixel to the left's last channel):
  # the masks are not stricter than they must be.
  order = np.arange(n).reshape(height, width, channels)
  previous = order[:, 1:].ravel() if channels == 1 else order[..., 1:].ravel()
  assert np.all(seen[previous, previous - 1])


def _clip(field, height, width):
  return {(a, b) for a, b in field if 0 <= a < height and 0 <= b < width}


def test_pixelcnn_field_is_the_masks_reach_with_a_blind_spot():
  """The pixels whose gradient is non-zero are exactly those a path of mask taps reaches
  (blocks' 3×3 mask B taps, then the 7×7 mask A taps), and those miss part of the
  receptive-field rectangle: above the pixel on the right, each step right costs a row up."""
  height, width, num_layers, (i, j) = 8, 10, 2, (6, 3)
  model = _model("pixelcnn", 1, num_layers=num_layers)
  x = jax.random.normal(jax.random.key(2), (8, height, width, 1))
  seen = _seen(model, _variables(model, x.shape), x)[i, j, 0, :, :, 0]

  def taps(size, centre):
    r = size // 2
    return [(di, dj) for di in range(-r, 1) for dj in range(-r, r + 1)
            if di < 0 or dj < 0 or (centre and dj == 0)]

  field = {(i, j)}
  for _ in range(num_layers):
    field = _clip({(a + di, b + dj) for a, b in field for di, dj in taps(3, True)}, height, width)
  field = _clip({(a + di, b + dj) for a, b in field for di, dj in taps(7, False)}, height, width)
  expected = np.zeros((height, width), bool)
  expected[tuple(np.array(sorted(field)).T)] = True
  np.testing.assert_array_equal(seen, expected)
  right = j + 3 + num_layers  # the rectangle's right edge, inside the image
  assert seen[i - 1 - num_layers, right] and not seen[i - 1, right], "no blind spot"


@pytest.mark.parametrize("skip_connections", [True, False])
def test_gated_pixelcnn_sees_every_earlier_pixel_of_its_field(skip_connections):
  """No blind spot: the gradient is non-zero at every pixel of the rows above within
  R = 3 + (layers - 1)·(k // 2) rows and columns, and of the row itself within R columns to the
  left, and zero everywhere else."""
  height, width, num_layers, k, (i, j) = 12, 12, 3, 3, (11, 6)
  model = gated_pixelcnn.GatedPixelCNN(
      features=8, num_layers=num_layers, kernel_size=k, out_features=8, channels=1,
      num_outputs=1, num_classes=0, skip_connections=skip_connections)
  x = jax.random.normal(jax.random.key(2), (8, height, width, 1))
  seen = _seen(model, _variables(model, x.shape), x)[i, j, 0, :, :, 0]
  r = 3 + (num_layers - 1) * (k // 2)
  expected = np.zeros((height, width), bool)
  expected[i - 1 - r:i, j - r:j + r + 1] = True
  expected[i, j - r:j] = True
  assert 0 < j - r and 0 < i - 1 - r  # the field's edges lie inside the image
  np.testing.assert_array_equal(seen, expected)


@pytest.mark.parametrize("name", sorted(FILES))
def test_labels_condition_only_a_conditional_model(name):
  shape = (2, 4, 5, 3)
  x = jax.random.normal(jax.random.key(2), shape)
  labels = jnp.array([1, 7])
  model = _model(name, 3, num_classes=10)
  variables = _variables(model, shape, labels, bias_scale=0.3)
  apply = jax.jit(model.apply)
  a, b = apply(variables, x, labels), apply(variables, x, jnp.array([1, 2]))
  np.testing.assert_array_equal(a[0], b[0])
  assert np.all(np.any(np.asarray(a[1] != b[1]), axis=(-2, -1))), "a pixel ignores its label"
  with pytest.raises(ValueError, match="needs labels"):
    jax.eval_shape(model.apply, variables, x)
  unconditional = _model(name, 3, num_classes=10, conditional=False)
  variables = _variables(unconditional, shape, labels)
  assert "embed" not in str(jax.tree_util.tree_structure(variables))
  apply = jax.jit(unconditional.apply)
  np.testing.assert_array_equal(apply(variables, x, labels), apply(variables, x))


def test_gated_features_must_be_a_multiple_of_the_channels():
  model = _model("gated_pixelcnn", 3, features=8)  # gate halves must keep the channel groups
  with pytest.raises(ValueError, match=r"features \(8\) must be a multiple"):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 4, 4, 3)))


def _bernoulli(key, logits):
  return jax.random.bernoulli(key, jax.nn.sigmoid(logits[:, 0])).astype(jnp.float32)


def _categorical(key, logits):
  return jax.random.categorical(key, logits).astype(jnp.float32) / 127.5 - 1.0


@pytest.mark.parametrize("channels,num_outputs,conditional",
                         [(1, 1, False), (3, 256, True)])
@pytest.mark.parametrize("name", sorted(FILES))
def test_cached_sampling_gives_the_reference_logits_and_samples(name, channels, num_outputs,
                                                                conditional):
  shape = (2, 4, 5, channels)
  labels = jnp.array([3, 8]) if conditional else None
  model = _model(name, channels, num_outputs, num_classes=10 if conditional else 0)
  variables = _variables(model, shape, labels, bias_scale=0.3)
  w = jax.random.normal(jax.random.key(4), (num_outputs,))
  # A draw smooth in all K logits (and in a number from its key): equal outputs mean equal
  # logits at every step.
  smooth = lambda key, logits: jnp.tanh(logits @ w / np.sqrt(num_outputs)
                                        + jax.random.normal(key, logits.shape[:1]))
  random = _bernoulli if num_outputs == 1 else _categorical
  key = jax.random.key(5)
  for draw, check in [(smooth, lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5)),
                      (random, np.testing.assert_array_equal)]:
    cached = np.asarray(jax.jit(lambda: FILES[name].sample_cached(model, variables, key, shape,
                                                                  labels, draw))())
    check(cached, np.asarray(jax.jit(
        lambda: sample_uncached(model, variables, key, shape, labels, draw))()))
    assert len(np.unique(cached)) > 1


@pytest.mark.parametrize("name", sorted(FILES))
def test_cached_sampling_is_reproducible(name):
  shape = (3, 4, 4, 1)
  model = _model(name, 1, num_outputs=1)
  variables = _variables(model, shape, bias_scale=0.3)
  sample = jax.jit(lambda key: FILES[name].sample_cached(model, variables, key, shape, None,
                                                         _bernoulli))
  a = np.asarray(sample(jax.random.key(1)))
  assert set(np.unique(a)) == {0.0, 1.0}
  np.testing.assert_array_equal(a, sample(jax.random.key(1)))
  assert not np.array_equal(a, sample(jax.random.key(2)))
