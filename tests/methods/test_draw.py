"""The DRAW method: the loss and its terms, the data it models, the importance-weighted bound,
sequential sampling and interpolation (attention and the model's wiring: models/test_draw.py)."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import binary_batch
from helpers.draw import LATENT, SPEC, STEPS, small_config
from jaxgen import data as data_lib
from jaxgen import losses
from jaxgen import methods
from jaxgen.methods import draw
from jaxgen.models import draw as draw_models
from jaxgen.types import DataSpec, ModelSpec


# ----- Training --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
  """100 steps on a fixed batch: an informative posterior, not yet a converged one."""
  method = methods.get(small_config(), SPEC)
  batch = binary_batch(128, SPEC.image_shape)
  state = jax.jit(method.init)(jax.random.key(0), batch)
  step = jax.jit(methods.base.count_steps(chex.assert_max_traces(method.train_step, n=1)),
                 donate_argnums=0)
  losses = []
  for i in range(100):
    state, metrics = step(state, batch, jax.random.fold_in(jax.random.key(1), i))
    losses.append(float(metrics["loss"]))
  return state, batch, losses


def test_train_step_decreases_loss_on_a_fixed_batch(trained):
  state, _, losses = trained
  assert int(state.step) == 100 and np.all(np.isfinite(losses))
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses


def terms_by_hand(state, x, eps):
  """(recon NLL [B], KL of each step [T, B]) in float64 from the model's outputs."""
  model = draw_models.make(small_config().model, ModelSpec.of(SPEC))
  logits, mean, logvar = (np.asarray(a, np.float64) for a in model.apply(
      {"params": state.params["draw"]}, x, eps))
  kl_steps = 0.5 * np.sum(np.exp(logvar) + mean ** 2 - 1.0 - logvar, axis=-1)
  x = np.asarray(x, np.float64)
  recon = np.sum(x * np.logaddexp(0, -logits) + (1 - x) * np.logaddexp(0, logits), (1, 2, 3))
  return recon, kl_steps


def test_kl_summed_over_steps_is_the_reported_kl(trained):
  state, batch, _ = trained
  c = small_config(beta=4.0)
  x, key = batch["image"], jax.random.key(3)
  # eval_step: per example, β = 1; its ELBO noise comes from the first half of its key.
  metrics = jax.jit(draw.make(c, SPEC).eval_step)(state, batch, key)
  recon, kl_steps = terms_by_hand(
      state, x, jax.random.normal(jax.random.split(key)[0], (STEPS, 128, LATENT)))
  assert np.all(kl_steps.mean(1) > 0.01)  # every step contributes
  np.testing.assert_allclose(metrics["kl"], kl_steps.sum(0), rtol=1e-4)
  np.testing.assert_allclose(metrics["recon"], recon, rtol=1e-4)
  np.testing.assert_allclose(metrics["neg_elbo"], recon + kl_steps.sum(0), rtol=1e-4)
  np.testing.assert_allclose(metrics["neg_elbo_bpd"], metrics["neg_elbo"] / (64 * math.log(2)),
                             rtol=1e-6)
  # train_step: batch means, β = 4 on the KL only; its key is the latent noise.
  _, metrics = jax.jit(draw.make(c, SPEC).train_step)(state, batch, key)
  recon, kl_steps = terms_by_hand(state, x, jax.random.normal(key, (STEPS, 128, LATENT)))
  np.testing.assert_allclose(metrics["kl"], kl_steps.sum(0).mean(), rtol=1e-4)
  np.testing.assert_allclose(metrics["recon"], recon.mean(), rtol=1e-4)
  np.testing.assert_allclose(metrics["loss"], recon.mean() + 4.0 * kl_steps.sum(0).mean(),
                             rtol=1e-4)


@pytest.mark.parametrize("mode", data_lib.MODES)
def test_data_must_be_binarized(mode):
  c = small_config()
  c.data.preprocess = mode
  if mode == "binarize":
    draw.make(c, SPEC)
  else:
    with pytest.raises(ValueError, match=f"^likelihood 'bernoulli'.*data.preprocess is '{mode}'$"):
      draw.make(c, SPEC)


def test_padding_is_left_out_of_the_likelihood_and_the_bits(trained):
  """The same 8×8 model on 6×6 data padded by one pixel each side: recon is the Bernoulli NLL
  of the 6×6 centre, bits/dim divide by its 36 pixels."""
  state, batch, _ = trained
  spec = DataSpec((8, 8, 1), 10, padding=((1, 1), (1, 1)))
  c = small_config()
  c.eval.iwae_k, c.eval.iwae_chunk = 2, 2
  x = batch["image"][:16].at[:, [0, -1]].set(0.0).at[:, :, [0, -1]].set(0.0)
  key = jax.random.key(4)
  metrics = jax.jit(draw.make(c, spec).eval_step)(state, {"image": x}, key)
  per_nat = 1.0 / (36 * math.log(2))
  np.testing.assert_allclose(metrics["neg_elbo_bpd"], metrics["neg_elbo"] * per_nat, rtol=1e-6)
  np.testing.assert_allclose(metrics["iwae_bpd"], metrics["iwae_nll"] * per_nat, rtol=1e-6)
  eps = jax.random.normal(jax.random.split(key)[0], (STEPS, 16, LATENT))
  logits, _, _ = draw_models.make(c.model, ModelSpec.of(SPEC)).apply(
      {"params": state.params["draw"]}, x, eps)
  np.testing.assert_allclose(metrics["recon"],
                             losses.bernoulli_nll(logits[:, 1:7, 1:7], x[:, 1:7, 1:7]), rtol=1e-5)


# ----- Importance-weighted bound ---------------------------------------------------------------


@functools.cache
def eval_fn(iwae_k, iwae_chunk=16):
  c = small_config()
  c.eval.iwae_k, c.eval.iwae_chunk = iwae_k, iwae_chunk
  return jax.jit(draw.make(c, SPEC).eval_step)


@pytest.fixture(scope="module")
def many(trained):
  """The trained batch 16 times over: each copy draws its own noise, so means over it average
  over independent samples of the estimators."""
  state, batch, _ = trained
  return state, {"image": jnp.tile(batch["image"], (16, 1, 1, 1))}


def test_iwae_is_the_log_mean_of_whole_sequence_weights(trained):
  state, batch, _ = trained
  x, key = batch["image"][:16], jax.random.key(5)
  # 3 samples in chunks of 2: two sequences per pass, and a padded last chunk.
  metrics = eval_fn(iwae_k=3, iwae_chunk=2)(state, {"image": x}, key)
  model = draw_models.make(small_config().model, ModelSpec.of(SPEC))
  iwae_key = jax.random.split(key)[1]
  log_w = []
  for i in range(3):  # sample i: the whole sequence z_{1:T} from fold_in(iwae_key, i)
    eps = np.asarray(jax.random.normal(jax.random.fold_in(iwae_key, i), (STEPS, 16, LATENT)),
                     np.float64)
    logits, mean, logvar = (np.asarray(a, np.float64) for a in model.apply(
        {"params": state.params["draw"]}, x, jnp.asarray(eps, jnp.float32)))
    z = mean + np.exp(0.5 * logvar) * eps
    log_pz = -0.5 * np.sum(np.log(2 * np.pi) + z ** 2, axis=(0, 2))
    log_qz = -0.5 * np.sum(np.log(2 * np.pi) + logvar + eps ** 2, axis=(0, 2))
    xs = np.asarray(x, np.float64)
    log_px_z = -np.sum(xs * np.logaddexp(0, -logits) + (1 - xs) * np.logaddexp(0, logits),
                       axis=(1, 2, 3))
    log_w.append(log_px_z + log_pz - log_qz)
  expected = -(np.logaddexp.reduce(log_w, axis=0) - math.log(3))
  np.testing.assert_allclose(metrics["iwae_nll"], expected, rtol=1e-5)
  np.testing.assert_allclose(metrics["iwae_bpd"], expected / (64 * math.log(2)), rtol=1e-5)


def test_iwae_with_one_sample_is_the_elbo_in_expectation(many):
  state, batch = many
  metrics = eval_fn(iwae_k=1)(state, batch, jax.random.key(6))
  diff = np.asarray(metrics["iwae_nll"] - metrics["neg_elbo"])  # independent across examples
  standard_error = diff.std() / math.sqrt(diff.size)
  assert abs(diff.mean()) < 4.0 * standard_error, (diff.mean(), standard_error)


def test_iwae_bound_tightens_with_more_samples(many):
  state, batch = many
  # The mean gaps (about 1.4 and 0.23 nats here) are >10 standard errors wide over 2048 draws.
  means = [float(jnp.mean(eval_fn(iwae_k=k)(state, batch, jax.random.key(7))["iwae_nll"]))
           for k in (1, 8, 32)]
  assert means[0] > means[1] > means[2], means


# ----- Sampling --------------------------------------------------------------------------------


def test_sample_sequence_is_reproducible_and_ends_at_the_sample(trained):
  state, batch, _ = trained
  method = draw.make(small_config(), SPEC)
  sample = jax.jit(method.sample, static_argnums=2)
  sequence = jax.jit(method.sample_sequence, static_argnums=2)
  a, b = sequence(state, jax.random.key(9), 5), sequence(state, jax.random.key(9), 5)
  assert a.shape == (STEPS, 5, 8, 8, 1) and a.dtype == jnp.float32
  assert bool(jnp.all((a >= 0.0) & (a <= 1.0)))
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, sequence(state, jax.random.key(10), 5))
  assert all(np.abs(a[t + 1] - a[t]).max() > 1e-3 for t in range(STEPS - 1))  # each step draws
  final = sample(state, jax.random.key(9), 5)
  np.testing.assert_allclose(final, a[-1], rtol=1e-6, atol=1e-7)
  np.testing.assert_array_equal(final, sample(state, jax.random.key(9), 5))
  recon = jax.jit(method.reconstruct)(state, batch, jax.random.key(11))
  assert recon.shape == batch["image"].shape and bool(jnp.all((recon >= 0) & (recon <= 1)))


def test_interpolation_walks_the_whole_latent_sequence(trained):
  state, _, _ = trained
  method = draw.make(small_config(), SPEC)
  key = jax.random.key(12)
  grid = method.interpolate(state, key, 2, 4).reshape(2, 4, *SPEC.image_shape)
  z0, z1 = jax.random.normal(key, (2, 2, 1, STEPS * LATENT))  # latent.interpolation_grid's
  model = draw_models.make(small_config().model, ModelSpec.of(SPEC))
  for column, z in ((0, z0[:, 0]), (-1, z1[:, 0])):
    z = jnp.swapaxes(z.reshape(2, STEPS, LATENT), 0, 1)
    canvases = model.apply({"params": state.params["draw"]}, z, method="generate")
    np.testing.assert_allclose(grid[:, column], jax.nn.sigmoid(canvases[-1]), rtol=1e-5,
                               atol=1e-6)
  assert np.abs(grid[:, 1] - grid[:, 0]).max() > 1e-4
