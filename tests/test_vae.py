"""VAE models and the VAE method: parameter counts, shapes, training, bounds, reproducibility."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxgen import losses
from jaxgen import methods
from jaxgen.methods import vae
from jaxgen.methods.base import DataSpec
from jaxgen.models import vae as vae_models

SPEC = DataSpec(image_shape=(4, 4, 1), num_classes=10)


def small_config(**overrides):
  c = vae.default_method_config()
  c.model.latent_dim = 3
  c.model.hidden = (32,)
  c.update(overrides)
  return c


def binary_batch(batch_size, shape=SPEC.image_shape):
  rng = np.random.default_rng(0)
  # Two prototypes with pixel noise: structure an encoder can learn and a posterior to infer.
  protos = rng.uniform(size=(2, *shape)) < 0.5
  flips = rng.uniform(size=(batch_size, *shape)) < 0.1
  images = protos[rng.integers(0, 2, batch_size)] ^ flips
  return {"image": jnp.asarray(images, jnp.float32), "label": jnp.zeros(batch_size, jnp.int32)}


# ----- Models ----------------------------------------------------------------------------------


def test_classic_mlp_vae_parameter_count():
  c = vae.default_method_config()  # 784 -> 256 -> 256 -> (mu, logvar) of 50, and back
  method = vae.make(c, DataSpec((28, 28, 1), 10))
  state = jax.eval_shape(method.init, jax.random.key(0), {"image": jnp.zeros((1, 28, 28, 1))})
  encoder = (784 * 256 + 256) + (256 * 256 + 256) + (256 * 2 * 50 + 2 * 50)
  decoder = (50 * 256 + 256) + (256 * 256 + 256) + (256 * 784 + 784)
  assert encoder + decoder == 572_788
  assert sum(math.prod(p.shape) for p in jax.tree.leaves(state.params)) == 572_788


@pytest.mark.parametrize("channels,params_per_channel", [(1, 1), (3, 2)])
def test_conv_vae_output_shapes(channels, params_per_channel):
  c = small_config().model
  c.name, c.features = "conv", (4, 8, 16)
  model = vae_models.make(c, (32, 32, channels * params_per_channel))
  x, eps = jnp.zeros((2, 32, 32, channels)), jnp.zeros((2, 3))
  variables = jax.eval_shape(model.init, jax.random.key(0), x, eps)
  out, mean, logvar = jax.eval_shape(model.apply, variables, x, eps)
  assert out.shape == (2, 32, 32, channels * params_per_channel)
  assert mean.shape == logvar.shape == (2, 3)


def test_conv_vae_rejects_sizes_it_cannot_mirror():
  c = small_config().model
  c.name, c.features = "conv", (4, 8, 16)
  model = vae_models.make(c, (28, 28, 1))
  with pytest.raises(ValueError, match="divisible by 8"):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)), jnp.zeros((1, 3)))


# ----- Training --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
  """100 steps on a fixed batch: q(z|x) is informative but not yet the true posterior."""
  method = methods.get(small_config(method="vae"), SPEC)
  batch = binary_batch(batch_size=128)
  state = jax.jit(method.init)(jax.random.key(0), batch)
  step = jax.jit(chex.assert_max_traces(method.train_step, n=1), donate_argnums=0)
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
  c.model.name = "conv"
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
  method, model = vae.make(c, SPEC), vae_models.make(c.model, SPEC.image_shape)
  batch = binary_batch(8)
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
  model = vae_models.make(c.model, SPEC.image_shape)
  for column, z in ((0, z0[:, 0]), (-1, z1[:, 0])):
    logits = model.apply({"params": state.params["vae"]}, z, method="decode")
    np.testing.assert_allclose(grid[:, column], jax.nn.sigmoid(logits), rtol=1e-5, atol=1e-6)
  assert np.abs(grid[:, 1] - grid[:, 0]).max() > 1e-4
