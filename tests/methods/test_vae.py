"""The VAE method: training, bounds, sampling, padding, likelihoods and their data, IWAE training."""

import functools
import math
import sys
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from helpers import binary_batch, load_config
from helpers.vae import small_config
from jaxgen import data as data_lib
from jaxgen import losses
from jaxgen import methods
from jaxgen.methods import vae
from jaxgen.models import vae as vae_models
from jaxgen.types import DataSpec, ModelSpec

SPEC = DataSpec(image_shape=(4, 4, 1), num_classes=10)



# ----- Training --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
  """100 steps on a fixed batch: q(z|x) is informative but not yet the true posterior."""
  method = methods.get(small_config(method="vae"), SPEC)
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
  assert int(state.step) == 100
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses


def test_beta_scales_only_the_kl_term(trained):
  state, batch, _ = trained
  key = jax.random.key(3)
  _, m1 = jax.jit(vae.make(small_config(beta=1.0), SPEC).train_step)(state, batch, key)
  _, m4 = jax.jit(vae.make(small_config(beta=4.0), SPEC).train_step)(state, batch, key)
  np.testing.assert_allclose(m1["recon"], m4["recon"], rtol=1e-6)
  np.testing.assert_allclose(m1["kl"], m4["kl"], rtol=1e-6)
  np.testing.assert_allclose(m1["loss"], m1["recon"] + m1["kl"], rtol=1e-6)
  np.testing.assert_allclose(m4["loss"], m4["recon"] + 4.0 * m4["kl"], rtol=1e-6)
  assert float(m4["kl"]) > 0.0


def test_conv_train_step_traces_with_a_two_parameter_likelihood():
  # Shapes only: compiling a conv step costs ~10 s on CPU; the MLP tests above check numerics.
  c = small_config(loss="discretized_logistic")
  c.data.preprocess = "scale11"
  c.model.update(name="conv", features=(32, 64, 128))
  method = vae.make(c, DataSpec((32, 32, 3), 10))
  batch = {"image": jnp.zeros((2, 32, 32, 3))}
  state = jax.eval_shape(method.init, jax.random.key(0), batch)
  new_state, metrics = jax.eval_shape(method.train_step, state, batch, jax.random.key(1))
  assert {k: m.shape for k, m in metrics.items()} == {
      k: () for k in ("loss", "recon", "kl", "l2_grads", "l2_params", "l2_updates")}
  assert jax.tree.map(lambda a: a.shape, new_state) == jax.tree.map(lambda a: a.shape, state)


# ----- Evaluation ------------------------------------------------------------------------------


@functools.cache
def eval_fn(iwae_k, iwae_chunk=500, beta=1.0, latent_dim=3):
  c = small_config(beta=beta)
  c.model.latent_dim = latent_dim
  c.eval.iwae_k, c.eval.iwae_chunk = iwae_k, iwae_chunk
  return jax.jit(vae.make(c, SPEC).eval_step)


@pytest.fixture(scope="module")
def many(trained):
  """The trained batch 64 times over: each copy draws its own noise, so means over it average
  over independent samples of the estimators."""
  state, batch, _ = trained
  return state, {"image": jnp.tile(batch["image"], (64, 1, 1, 1))}


def test_eval_metrics_are_per_example_and_use_beta_one(trained):
  state, batch, _ = trained
  key = jax.random.key(4)
  metrics = eval_fn(iwae_k=3, beta=4.0)(state, batch, key)
  assert {k: v.shape for k, v in metrics.items()} == {
      k: (128,) for k in ("neg_elbo", "recon", "kl", "neg_elbo_bpd", "iwae_nll", "iwae_bpd")}
  np.testing.assert_allclose(metrics["neg_elbo"], metrics["recon"] + metrics["kl"], rtol=1e-6)
  np.testing.assert_allclose(metrics["neg_elbo_bpd"], metrics["neg_elbo"] / (16 * math.log(2)),
                             rtol=1e-6)
  np.testing.assert_allclose(metrics["iwae_bpd"], metrics["iwae_nll"] / (16 * math.log(2)),
                             rtol=1e-6)
  assert "iwae_nll" not in eval_fn(iwae_k=0)(state, batch, key)


def test_iwae_with_one_sample_is_the_elbo_in_expectation(many):
  state, batch = many
  metrics = eval_fn(iwae_k=1)(state, batch, jax.random.key(5))
  diff = np.asarray(metrics["iwae_nll"] - metrics["neg_elbo"])  # independent across examples
  standard_error = diff.std() / math.sqrt(diff.size)
  assert abs(diff.mean()) < 4.0 * standard_error, (diff.mean(), standard_error)


def test_iwae_bound_tightens_with_more_samples(many):
  state, batch = many
  # The mean gaps (about 0.35 and 0.03 nats here) are >10 standard errors wide over 8192 draws.
  bounds = [float(jnp.mean(eval_fn(iwae_k=k)(state, batch, jax.random.key(6))["iwae_nll"]))
            for k in (1, 10, 100)]
  assert bounds[0] > bounds[1] > bounds[2], bounds


def test_iwae_does_not_depend_on_chunk_size(many):
  state, batch = many
  key = jax.random.key(6)
  whole = eval_fn(iwae_k=100)(state, batch, key)["iwae_nll"]  # one chunk: 500 is clipped to k
  chunked = eval_fn(iwae_k=100, iwae_chunk=30)(state, batch, key)["iwae_nll"]  # last one padded
  np.testing.assert_allclose(chunked, whole, rtol=1e-5)
  assert not np.allclose(eval_fn(iwae_k=100)(state, batch, jax.random.key(7))["iwae_nll"], whole)


def test_iwae_converges_to_the_marginal_likelihood():
  # With a 1-d latent, log p(x) = log ∫ p(x|z) N(z; 0, 1) dz is exact enough by quadrature.
  c = small_config()
  c.model.latent_dim = 1
  method, model = vae.make(c, SPEC), vae_models.make(c.model, ModelSpec.of(SPEC))
  batch = binary_batch(8, SPEC.image_shape)
  state = jax.jit(method.init)(jax.random.key(0), batch)
  z = jnp.linspace(-8.0, 8.0, 4001)
  logits = model.apply({"params": state.params["vae"]}, z[:, None], method="decode")
  log_px_z = -jax.vmap(lambda x: losses.bernoulli_nll(logits, jnp.broadcast_to(x, logits.shape)))(
      batch["image"])  # [B, grid]
  log_px = jax.nn.logsumexp(log_px_z + stats.norm.logpdf(z) + math.log(z[1] - z[0]), axis=1)
  iwae = eval_fn(iwae_k=2000, latent_dim=1)(state, batch, jax.random.key(8))["iwae_nll"]
  # Observed error ~0.04 nats; a wrong log k, log q or log p(z) term is off by >= 0.9.
  np.testing.assert_allclose(iwae, -log_px, atol=0.2)


# ----- Sampling --------------------------------------------------------------------------------


def test_samples_are_reproducible_images(trained):
  state, batch, _ = trained
  method = vae.make(small_config(), SPEC)
  sample = jax.jit(method.sample, static_argnums=2)
  a, b = sample(state, jax.random.key(9), 5), sample(state, jax.random.key(9), 5)
  c = sample(state, jax.random.key(10), 5)
  assert a.shape == (5, 4, 4, 1) and a.dtype == jnp.float32
  assert bool(jnp.all((a >= 0.0) & (a <= 1.0)))
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)
  recon = jax.jit(method.reconstruct)(state, batch, jax.random.key(11))
  assert recon.shape == batch["image"].shape and bool(jnp.all((recon >= 0) & (recon <= 1)))


def test_interpolation_decodes_slerp_walks_between_prior_draws(trained):
  state, _, _ = trained
  c = small_config()
  method = vae.make(c, SPEC)
  key = jax.random.key(12)
  grid = method.interpolate(state, key, 2, 4).reshape(2, 4, *SPEC.image_shape)
  z0, z1 = jax.random.normal(key, (2, 2, 1, c.model.latent_dim))
  model = vae_models.make(c.model, ModelSpec.of(SPEC))
  for column, z in ((0, z0[:, 0]), (-1, z1[:, 0])):
    logits = model.apply({"params": state.params["vae"]}, z, method="decode")
    np.testing.assert_allclose(grid[:, column], jax.nn.sigmoid(logits), rtol=1e-5, atol=1e-6)
  assert np.abs(grid[:, 1] - grid[:, 0]).max() > 1e-4


# ----- Padding, data checks, continuous likelihoods --------------------------------------------


def test_padded_conv_vae_reports_nats_and_bits_of_the_real_pixels():
  """28x28 data padded to 32x32: the likelihood sums over the 784 data pixels, and bits/dim
  divide by 784, not 1024."""
  c = load_config("vae_fashion_mnist", "conv")
  c.eval.iwae_k = c.eval.iwae_chunk = 2
  spec = DataSpec((32, 32, 1), 10, padding=((2, 2), (2, 2)))
  method = vae.make(c, spec)
  real = binary_batch(3, (28, 28, 1))["image"]
  batch = {"image": jnp.pad(real, ((0, 0), (2, 2), (2, 2), (0, 0)))}
  state = jax.jit(method.init)(jax.random.key(0), batch)
  key = jax.random.key(1)
  metrics = jax.jit(method.eval_step)(state, batch, key)
  per_nat = 1.0 / (784 * math.log(2.0))
  np.testing.assert_allclose(metrics["neg_elbo_bpd"], metrics["neg_elbo"] * per_nat, rtol=1e-6)
  np.testing.assert_allclose(metrics["iwae_bpd"], metrics["iwae_nll"] * per_nat, rtol=1e-6)
  # recon is the Bernoulli NLL of the 28x28 image under the decoder's 28x28 centre (the eval
  # ELBO's noise comes from the first half of its key).
  eps = jax.random.normal(jax.random.split(key)[0], (3, c.model.latent_dim))
  logits, _, _ = vae_models.make(c.model, ModelSpec.of(spec)).apply(
      {"params": state.params["vae"]}, batch["image"], eps)
  np.testing.assert_allclose(metrics["recon"],
                             losses.bernoulli_nll(logits[:, 2:30, 2:30], real), rtol=1e-5)


# The data.preprocess modes each likelihood is a likelihood of.
LIKELIHOOD_DATA = {"bernoulli": {"binarize"}, "discretized_logistic": {"scale11"},
                   "gaussian": {"dequantize11"}}


def test_every_likelihood_has_its_data_modes():
  assert set(LIKELIHOOD_DATA) == set(losses.LIKELIHOODS)
  assert set().union(*LIKELIHOOD_DATA.values()) <= set(data_lib.MODES)


@pytest.mark.parametrize("mode", data_lib.MODES)
@pytest.mark.parametrize("loss", sorted(LIKELIHOOD_DATA))
def test_likelihood_and_preprocessing_must_match(loss, mode):
  c = small_config(loss=loss)
  c.data.preprocess = mode
  if mode in LIKELIHOOD_DATA[loss]:
    vae.make(c, SPEC)
  else:
    with pytest.raises(ValueError, match=f"^likelihood '{loss}'.*data.preprocess is '{mode}'$"):
      vae.make(c, SPEC)


def test_a_users_likelihood_declares_its_data(monkeypatch):
  module = types.ModuleType("my_vae_likelihoods")
  module.unit = losses.BERNOULLI._replace(preprocess=("scale01",))
  monkeypatch.setitem(sys.modules, "my_vae_likelihoods", module)
  c = small_config(loss="my_vae_likelihoods:unit")
  c.data.preprocess = "scale01"
  vae.make(c, SPEC)
  c.data.preprocess = "binarize"
  with pytest.raises(ValueError, match="'my_vae_likelihoods:unit'.*'scale01'.*'binarize'"):
    vae.make(c, SPEC)


def test_gaussian_decoder_nats_and_bits_match_the_closed_form():
  """A decoder that outputs a known mean and log-scale per pixel (only its output bias is
  non-zero) and an encoder that outputs the prior (all zero): the KL is 0, every importance
  weight is p(x|z), and the bound is the density's nats plus log(1/Δ) per real dimension
  (Δ = 2/256, dequantize11's bins), over the 5x5 real pixels of 6x6 padded data."""
  spec = DataSpec((6, 6, 1), 10, padding=((1, 0), (0, 1)))
  c = small_config(loss="gaussian")
  c.data.preprocess = "dequantize11"
  c.eval.iwae_k = c.eval.iwae_chunk = 4
  method = vae.make(c, spec)
  rng = np.random.default_rng(1)
  pixels = jnp.asarray(rng.integers(0, 256, (3, 5, 5, 1)), jnp.uint8)
  real = data_lib.preprocess(pixels, jax.random.key(2), "dequantize11")
  batch = {"image": jnp.pad(real, ((0, 0), (1, 0), (0, 1), (0, 0)))}
  state = method.init(jax.random.key(0), batch)
  mean, log_scale = rng.uniform(-1, 1, (6, 6)), rng.uniform(-3, 0, (6, 6))
  params = jax.tree.map(jnp.zeros_like, state.params["vae"])
  params["decoder"]["Dense_1"]["bias"] = jnp.asarray(
      np.stack([mean, log_scale], -1).reshape(-1), jnp.float32)  # [means | log-scales]
  state = state.replace(params={"vae": params})
  metrics = method.eval_step(state, batch, jax.random.key(3))
  x = np.asarray(real, np.float64)[..., 0]
  density = -stats.norm.logpdf(x, mean[1:, :5], np.exp(log_scale[1:, :5])).sum((1, 2))
  nats = density + 25 * math.log(128.0)
  np.testing.assert_allclose(metrics["kl"], 0.0, atol=1e-6)
  for name in ("recon", "neg_elbo", "iwae_nll"):
    np.testing.assert_allclose(metrics[name], nats, rtol=1e-5)
  for name in ("neg_elbo_bpd", "iwae_bpd"):
    np.testing.assert_allclose(metrics[name], nats / (25 * math.log(2.0)), rtol=1e-5)


# ----- IWAE training ---------------------------------------------------------------------------


@functools.cache
def train_step_fn(train_k):
  return jax.jit(vae.make(small_config(train_k=train_k), SPEC).train_step)


def neg_log_weights(state, x, eps):
  """-[log p(x|z) + log p(z) - log q(z|x)] [B] in float64 at z = mean + σ·eps, and the ELBO's
  closed-form KL [B]."""
  model = vae_models.make(small_config().model, ModelSpec.of(SPEC))
  params = {"params": state.params["vae"]}
  mean, logvar = (np.asarray(a, np.float64) for a in model.apply(params, x, method="encode"))
  eps = np.asarray(eps, np.float64)
  z = mean + np.exp(0.5 * logvar) * eps
  logits = np.asarray(model.apply(params, jnp.asarray(z, jnp.float32), method="decode"),
                      np.float64)
  log_px_z = stats.bernoulli.logpmf(np.asarray(x), special.expit(logits)).sum((1, 2, 3))
  log_pz = stats.norm.logpdf(z).sum(-1)
  log_qz = stats.norm.logpdf(z, mean, np.exp(0.5 * logvar)).sum(-1)
  kl = 0.5 * np.sum(np.exp(logvar) + mean ** 2 - 1.0 - logvar, -1)
  return -(log_px_z + log_pz - log_qz), -log_px_z + kl


def test_training_with_one_sample_is_the_elbo(trained):
  state, batch, _ = trained
  key = jax.random.key(13)
  _, metrics = train_step_fn(1)(state, batch, key)
  _, elbo = neg_log_weights(state, batch["image"], jax.random.normal(key, (128, 3)))
  np.testing.assert_allclose(metrics["loss"], elbo.mean(), rtol=1e-5)


def test_training_with_k_samples_is_the_iwae_bound(trained):
  state, batch, _ = trained
  key = jax.random.key(14)
  _, metrics = train_step_fn(5)(state, batch, key)
  # Sample i's noise comes from fold_in(key, i), as the eval bound's.
  log_w = np.stack([-neg_log_weights(state, batch["image"], jax.random.normal(
      jax.random.fold_in(key, i), (128, 3)))[0] for i in range(5)])
  expected = math.log(5) - special.logsumexp(log_w, axis=0)
  np.testing.assert_allclose(metrics["loss"], expected.mean(), rtol=1e-5)
  assert float(metrics["loss"]) < -log_w.mean()  # tighter than the single-sample bounds


def test_iwae_training_rejects_beta():
  with pytest.raises(ValueError, match="beta"):
    vae.make(small_config(train_k=5, beta=4.0), SPEC)
