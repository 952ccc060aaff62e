"""The autoregressive method over every pixel model: exact likelihood units, sampling,
training, config errors. Causality, receptive fields and the cached samplers are tested per
model in models/test_pixelcnn.py and models/test_pixelrnn.py."""

import logging
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import common
from helpers import load_config
from jaxgen import data as data_lib
from jaxgen import losses
from jaxgen.methods import autoregressive
from jaxgen.types import DataSpec

ARCHS = sorted(autoregressive.MODELS)


def method_config(arch, head="bernoulli", **model):
  c = common.pixel(arch if arch in autoregressive.MODELS else "pixelcnn", "tiny",
                     sizes={"mnist": {}}, epochs={"mnist": 1})
  c.model.name = arch
  c.head = head
  c.data.preprocess = autoregressive.HEADS[head].preprocess
  c.model.update(model)
  return c


def data_batch(head, shape, seed=0, num_classes=10):
  rng = np.random.default_rng(seed)
  if head == "bernoulli":
    image = (rng.uniform(size=shape) < 0.5).astype(np.float32)
  else:  # what data.preprocess "scale01" makes of uint8 pixels
    image = rng.integers(0, 256, shape).astype(np.float32) / 255.0
  return {"image": jnp.asarray(image),
          "label": jnp.asarray(rng.integers(0, num_classes, shape[0]), jnp.int32)}


@pytest.mark.parametrize("head,bits", [("bernoulli", 1.0), ("softmax256", 8.0)])
def test_uniform_logits_score_one_bit_per_binary_pixel_and_eight_per_subpixel(head, bits):
  shape = (3, 5, 4, 3)
  method = autoregressive.make(method_config("uniform_pixel_model:UNIFORM", head),
                               DataSpec(shape[1:], 10))
  batch = data_batch(head, shape)
  state = method.init(jax.random.key(0), batch)
  metrics = method.eval_step(state, batch, jax.random.key(1))
  np.testing.assert_allclose(metrics["bpd"], bits, rtol=1e-6)
  np.testing.assert_allclose(metrics["nll"], bits * math.log(2) * 5 * 4 * 3, rtol=1e-6)


def _perturbed(params, scale):
  """Parameters plus noise: biases and embeddings away from their zero init, so zero
  gradients are structural and labels matter."""
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(1), len(leaves))
  return jax.tree.unflatten(treedef, [p + scale * jax.random.normal(k, p.shape)
                                      for k, p in zip(keys, leaves)])


@pytest.mark.parametrize("arch,head,channels,conditional", [
    ("pixelcnn", "bernoulli", 1, False), ("gated_pixelcnn", "softmax256", 3, True)])
def test_cached_sampling_option_gives_the_uncached_samples(arch, head, channels, conditional):
  """`cached_sampling` picks the model's cached sampler or the reference; the samplers' own
  tests are in test_pixelcnn.py and test_pixelrnn.py."""
  shape = (3, 5, 4, channels)
  samples = {}
  for cached in (True, False):
    c = method_config(arch, head, features=4 * channels, conditional=conditional)
    c.cached_sampling = cached
    method = autoregressive.make(c, DataSpec(shape[1:], 10))
    state = method.init(jax.random.key(0), data_batch(head, shape))
    state = state.replace(params=_perturbed(state.params, 0.3))
    samples[cached] = np.asarray(jax.jit(method.sample, static_argnums=2)(
        state, jax.random.key(5), 3, jnp.array([1, 7, 2]) if conditional else None))
  np.testing.assert_array_equal(samples[True], samples[False])
  assert 0.0 <= samples[True].min() and samples[True].max() <= 1.0


def test_uncached_sampling_says_what_runs_before_it_starts(caplog):
  """One compiled loop has no progress bar: a line says what it is and how long it takes."""
  shape = (2, 3, 4, 1)
  said = {}
  autoregressive._announce_uncached.cache_clear()  # once per process: this test's is the first
  for cached in (True, False):
    c = method_config("pixelcnn", features=4)
    c.cached_sampling = cached
    method = autoregressive.make(c, DataSpec(shape[1:], 10))
    state = jax.eval_shape(method.init, jax.random.key(0), data_batch("bernoulli", shape))
    caplog.clear()
    with caplog.at_level(logging.INFO):
      jax.eval_shape(lambda s, k: method.sample(s, k, 2), state, jax.random.key(1))  # a trace
    said[cached] = [r.getMessage() for r in caplog.records]
  assert said[True] == []
  [line] = said[False]
  caplog.clear()
  with caplog.at_level(logging.INFO):
    jax.eval_shape(lambda s, k: method.sample(s, k, 3), state, jax.random.key(1))  # a retrace
  assert caplog.records == []
  assert line.startswith("autoregressive sampling without a cache (config.cached_sampling=False"
                         "): 12 sequential passes of the whole model in one compiled loop")


@pytest.mark.parametrize("arch", ARCHS)
def test_sampling_is_reproducible_and_labels_condition_it(arch):
  shape = (4, 6, 6, 1)
  c = method_config(arch, conditional=True, features=8)
  method = autoregressive.make(c, DataSpec(shape[1:], 10))
  state = method.init(jax.random.key(0), data_batch("bernoulli", shape))
  state = state.replace(params=_perturbed(state.params, 0.3))
  sample = jax.jit(method.sample, static_argnums=2)
  a = np.asarray(sample(state, jax.random.key(1), 4, jnp.zeros(4, jnp.int32)))
  np.testing.assert_array_equal(a, sample(state, jax.random.key(1), 4, jnp.zeros(4, jnp.int32)))
  assert set(np.unique(a)) <= {0.0, 1.0}
  assert not np.array_equal(a, sample(state, jax.random.key(2), 4, jnp.zeros(4, jnp.int32)))
  assert not np.array_equal(a, sample(state, jax.random.key(1), 4, jnp.full(4, 9, jnp.int32)))


@pytest.mark.parametrize("arch,head", [*((a, "softmax256") for a in ARCHS),
                                       ("pixelcnn", "logistic_mixture")])
def test_one_train_step_on_rgb_8bit_data_lowers_the_nll(arch, head):
  shape = (8, 4, 4, 3)
  c = method_config(arch, head, features=12)
  c.optimizer.lr = 1e-2
  method = autoregressive.make(c, DataSpec(shape[1:], 10))
  batch = data_batch(head, shape)
  state = method.init(jax.random.key(0), batch)
  step = jax.jit(method.train_step)
  before = method.eval_step(state, batch, jax.random.key(0))
  state, metrics = step(state, batch, jax.random.key(0))
  np.testing.assert_allclose(metrics["loss"], np.mean(before["nll"]), rtol=1e-5)
  np.testing.assert_allclose(metrics["bpd"], metrics["loss"] / (4 * 4 * 3 * math.log(2)),
                             rtol=1e-6)
  for _ in range(5):
    state, _ = step(state, batch, jax.random.key(0))
  after = method.eval_step(state, batch, jax.random.key(0))
  assert np.mean(after["nll"]) < np.mean(before["nll"])


def test_pixel_models_learn_a_two_pattern_distribution():
  """Images are one of two fixed 4×4 binary patterns: an exact likelihood model must get close
  to log 2 nats per image (the one bit of which pattern), far below 16 · log 2."""
  rng = np.random.default_rng(0)
  patterns = (rng.uniform(size=(2, 4, 4, 1)) < 0.5).astype(np.float32)
  batch = {"image": jnp.asarray(patterns[np.arange(64) % 2]),
           "label": jnp.zeros(64, jnp.int32)}
  c = method_config("pixelcnn", features=16)
  c.optimizer.lr = 1e-2
  method = autoregressive.make(c, DataSpec((4, 4, 1), 10))
  state = method.init(jax.random.key(0), batch)
  step = jax.jit(method.train_step)
  for _ in range(300):
    state, _ = step(state, batch, jax.random.key(0))
  nll = float(np.mean(method.eval_step(state, batch, jax.random.key(0))["nll"]))
  assert nll < math.log(2) + 0.1, nll
  samples = np.asarray(method.sample(state, jax.random.key(3), 16))
  assert all(any(np.array_equal(s, p) for p in patterns) for s in samples)


def test_bad_configs_are_one_line_errors():
  spec = DataSpec((4, 4, 1), 10)
  c = method_config("pixelcnn", "softmax256")
  c.data.preprocess = "binarize"
  with pytest.raises(ValueError, match="head 'softmax256' models 'scale01' data"):
    autoregressive.make(c, spec)
  c = method_config("pixelcnn")
  c.data.pad_to = 32
  with pytest.raises(ValueError, match="pad_to must be 0"):
    autoregressive.make(c, spec)
  c = method_config("pixelcnn", conditional=True)
  with pytest.raises(ValueError, match="has no class labels"):
    autoregressive.make(c, DataSpec((4, 4, 1), 0))
  with pytest.raises(ValueError, match="unknown pixel model 'pixelcnnn'"):
    autoregressive.make(method_config("pixelcnnn"), spec)


# The data.preprocess mode each head is a distribution of.
HEAD_DATA = {"bernoulli": "binarize", "softmax256": "scale01", "logistic_mixture": "scale01"}


@pytest.mark.parametrize("mode", data_lib.MODES)
@pytest.mark.parametrize("head", sorted(HEAD_DATA))
def test_head_and_preprocessing_must_match(head, mode):
  assert set(HEAD_DATA) == set(autoregressive.HEADS)
  c = method_config("pixelcnn", head)
  c.data.preprocess = mode
  if mode == HEAD_DATA[head]:
    autoregressive.make(c, DataSpec((4, 4, 1), 10))
  else:
    with pytest.raises(ValueError, match=f"^head '{head}'.*data.preprocess is '{mode}'$"):
      autoregressive.make(c, DataSpec((4, 4, 1), 10))


def test_logistic_mixture_draws_follow_its_probabilities():
  head = autoregressive.HEADS["logistic_mixture"]
  m = autoregressive.MIXTURE_COMPONENTS
  rng = np.random.default_rng(1)
  params = jnp.asarray(np.concatenate([rng.normal(size=m), rng.uniform(-0.5, 0.5, m),
                                       np.full(m, -2.5)])[None], jnp.float32)
  draws = jax.vmap(lambda k: head.draw(k, params))(jax.random.split(jax.random.key(0), 20_000))
  counts = np.bincount(np.asarray(jnp.round((draws[:, 0] + 1) * 127.5), np.int64), minlength=256)
  values = jnp.arange(256) / 127.5 - 1.0
  probs = np.exp(-np.asarray(jax.vmap(
      lambda v: losses.discretized_logistic_mixture_nll(params, v[None]))(values)))[:, 0]
  # Total variation between the empirical and exact distributions: ~0.05 expected from 20k
  # draws over the ~60 values holding the mass; a wrong component or scale gives far more.
  assert 0.5 * np.abs(counts / counts.sum() - probs).sum() < 0.1


@pytest.mark.parametrize("tiny", ["", ",tiny"])
@pytest.mark.parametrize("dataset", sorted(common.PIXEL_DATASETS))
@pytest.mark.parametrize("arch", ARCHS)
def test_every_dataset_variant_builds_its_model_on_its_data(arch, dataset, tiny):
  """configs/<arch>.py:<dataset>[,tiny] names the dataset's splits and head and builds a model
  for its images (shapes only: nothing is compiled)."""
  c = load_config(arch, dataset + tiny)
  name, train_split, _, head = common.PIXEL_DATASETS[dataset]
  assert (c.model.name, c.data.name, c.head) == (arch, name, head)
  assert c.data.preprocess == autoregressive.HEADS[head].preprocess
  if tiny:  # a few steps on a slice of the data
    assert c.data.train_split != train_split and c.num_steps < 10
  else:
    assert c.data.train_split == train_split and c.num_steps > 100
  shape = (32, 32, 3) if name == "cifar10" else (28, 28, 1)
  method = autoregressive.make(c, DataSpec(shape, 10))
  batch = {"image": jnp.zeros((2, *shape)), "label": jnp.zeros((2,), jnp.int32)}
  state = jax.eval_shape(method.init, jax.random.key(0), batch)
  assert sum(x.size for x in jax.tree.leaves(state.params)) > 0
