"""Losses against closed forms, Monte Carlo estimates, scipy and textbook formulas (float64):
likelihoods, the pixel models' likelihoods, GAN losses and penalties."""

import math
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
from scipy import special, stats

from jaxgen import data as data_lib
from jaxgen import losses
from jaxgen.methods.base import real_pixels
from jaxgen.types import DataSpec


def _kl_monte_carlo(mean1, logvar1, mean2, logvar2, num=400_000, seed=0):
  """E_q[log q - log p] over `num` float64 samples, and the standard error of that mean."""
  rng = np.random.default_rng(seed)
  z = mean1 + np.exp(0.5 * logvar1) * rng.standard_normal((num, mean1.size))
  log_q = stats.norm.logpdf(z, mean1, np.exp(0.5 * logvar1)).sum(-1)
  log_p = stats.norm.logpdf(z, mean2, np.exp(0.5 * logvar2)).sum(-1)
  diff = log_q - log_p
  return diff.mean(), diff.std() / math.sqrt(num)


# ----- Gaussians ------------------------------------------------------------------------------


def test_gaussian_kl_is_zero_at_standard_normal():
  np.testing.assert_allclose(losses.gaussian_kl(jnp.zeros((2, 5)), jnp.zeros((2, 5))), 0.0)


def test_gaussian_kl_matches_monte_carlo():
  mean, logvar = np.array([0.5, -1.0, 2.0]), np.array([-0.7, 0.4, 0.0])
  mc, se = _kl_monte_carlo(mean, logvar, np.zeros(3), np.zeros(3))
  closed = float(losses.gaussian_kl(jnp.asarray(mean), jnp.asarray(logvar)))
  assert abs(closed - mc) < 5 * se, (closed, mc, se)


def test_gaussian_kl_two_reduces_to_gaussian_kl():
  mean, logvar = jnp.asarray(np.random.default_rng(0).normal(size=(2, 4, 6)), jnp.float32)
  zeros = jnp.zeros_like(mean)
  np.testing.assert_allclose(losses.gaussian_kl_two(mean, logvar, zeros, zeros),
                             losses.gaussian_kl(mean, logvar), rtol=1e-6)


def test_gaussian_kl_two_matches_monte_carlo():
  mean1, logvar1 = np.array([0.3, -0.5]), np.array([-0.2, 0.6])
  mean2, logvar2 = np.array([-0.4, 1.0]), np.array([0.5, -0.3])
  mc, se = _kl_monte_carlo(mean1, logvar1, mean2, logvar2)
  closed = float(losses.gaussian_kl_two(*map(jnp.asarray, (mean1, logvar1, mean2, logvar2))))
  assert abs(closed - mc) < 5 * se, (closed, mc, se)


def test_gaussian_log_prob_matches_scipy():
  rng = np.random.default_rng(1)
  x, mean, logvar = rng.normal(size=(3, 4, 7))
  expected = stats.norm.logpdf(x, mean, np.exp(0.5 * logvar)).sum(-1)
  np.testing.assert_allclose(losses.gaussian_log_prob(x, mean, logvar), expected, rtol=1e-5)


def test_shapes_are_checked():
  with pytest.raises(AssertionError):
    losses.gaussian_kl(jnp.zeros((2, 3)), jnp.zeros((2, 4)))
  with pytest.raises(AssertionError):
    losses.bernoulli_nll(jnp.zeros((2, 4, 4, 1)), jnp.zeros((2, 4, 4, 3)))


# ----- Reconstruction likelihoods --------------------------------------------------------------


def test_bernoulli_nll_matches_scipy():
  rng = np.random.default_rng(2)
  logits = rng.normal(scale=3.0, size=(3, 4, 4, 2))
  x = (rng.uniform(size=logits.shape) < 0.5).astype(np.float64)
  expected = -stats.bernoulli.logpmf(x, special.expit(logits)).sum((1, 2, 3))
  np.testing.assert_allclose(losses.bernoulli_nll(jnp.asarray(logits), jnp.asarray(x)),
                             expected, rtol=1e-5)


def test_bernoulli_nll_is_stable_for_extreme_logits():
  logits = jnp.array([-80.0, -30.0, 30.0, 80.0]).reshape(1, 2, 2, 1)
  x = jnp.array([1.0, 0.0, 0.0, 1.0]).reshape(1, 2, 2, 1)
  expected = np.logaddexp(0.0, np.asarray(logits, np.float64)) - np.asarray(x * logits)
  np.testing.assert_allclose(losses.bernoulli_nll(logits, x), expected.sum((1, 2, 3)), rtol=1e-6)


GRID = np.linspace(-1.0, 1.0, 256)  # the 256 pixel levels in [-1, 1]


def _logistic_bins_nll(mean, log_scale):
  """NLL of every bin of a 1-pixel image: [256]."""
  x = jnp.asarray(GRID, jnp.float32).reshape(256, 1, 1, 1)
  return losses.discretized_logistic_nll(
      (jnp.full_like(x, mean), jnp.full_like(x, log_scale)), x)


@pytest.mark.parametrize("mean,log_scale", [(0.0, 0.0), (0.3, -3.0), (-0.9, -6.0), (1.7, -1.0),
                                            (0.5, -9.0), (-0.2, 3.0)])
def test_discretized_logistic_sums_to_one_and_matches_scipy(mean, log_scale):
  nll = _logistic_bins_nll(mean, log_scale)
  np.testing.assert_allclose(jnp.sum(jnp.exp(-nll)), 1.0, rtol=1e-5)
  # float64 reference: CDF differences, edge bins open to ±inf.
  half = 1.0 / 255.0
  upper = np.where(GRID > 1.0 - half, np.inf, GRID + half)
  lower = np.where(GRID < -1.0 + half, -np.inf, GRID - half)
  # log(sf(lower) - sf(upper)), written to stay accurate in both tails.
  log_sf_lower = stats.logistic.logsf(lower, mean, np.exp(log_scale))
  log_sf_upper = stats.logistic.logsf(upper, mean, np.exp(log_scale))
  with np.errstate(divide="ignore"):  # bins beyond float64's range: log 0 = -inf, excluded
    log_p = log_sf_lower + np.log(-np.expm1(log_sf_upper - log_sf_lower))
  finite = log_p > -80.0  # float32 keeps ~1e-5 relative accuracy there
  np.testing.assert_allclose(-nll[finite], log_p[finite], rtol=1e-4, atol=1e-4)


def test_discretized_logistic_near_uniform_is_eight_bits():
  # The centre bin has mass tanh(half / (2 s)); choose s so it is 1/256, i.e. 8 bits exactly.
  half = 1.0 / 255.0
  log_scale = math.log(half / (2.0 * math.atanh(1.0 / 256.0)))
  bits = _logistic_bins_nll(0.0, log_scale) / math.log(2.0)
  np.testing.assert_allclose(bits[127], 8.0, atol=1e-3)  # GRID[127] = -1/255, the bin [-2/255, 0]
  # Uniform data costs at least 8 bits under any model (Gibbs) and about 8 under a wide one.
  cross_entropy = [float(jnp.mean(_logistic_bins_nll(0.0, s))) / math.log(2.0)
                   for s in np.linspace(-3.0, 1.0, 17)]
  assert min(cross_entropy) >= 8.0 - 1e-4
  assert min(cross_entropy) < 8.4


def test_discretized_logistic_gradients_are_finite_at_edges_and_sharp_scales():
  x = jnp.array([-1.0, 1.0, 0.0, 1.0, -1.0]).reshape(1, 5, 1, 1)
  mean = jnp.array([0.0, 0.0, 0.5, 1.0, -0.99]).reshape(x.shape)
  log_scale = jnp.array([0.0, -12.0, -12.0, 2.0, -7.0]).reshape(x.shape)
  grads = jax.jit(jax.grad(lambda m, s: jnp.sum(losses.discretized_logistic_nll((m, s), x)),
                   argnums=(0, 1)))(mean, log_scale)
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)


def test_gaussian_nll_matches_scipy():
  rng = np.random.default_rng(3)
  x, mean, log_scale = rng.normal(size=(3, 2, 3, 3, 2))
  expected = -stats.norm.logpdf(x, mean, np.exp(log_scale)).sum((1, 2, 3))
  np.testing.assert_allclose(losses.gaussian_nll((mean, log_scale), x), expected, rtol=1e-5)


def test_gaussian_likelihood_adds_the_dequantization_bins_log_width():
  rng = np.random.default_rng(7)
  x = data_lib.preprocess(jnp.asarray(rng.integers(0, 256, (2, 4, 4, 3)), jnp.uint8),
                          jax.random.key(0), "dequantize11")
  mean, log_scale = 0.5 * rng.normal(size=(2, 4, 4, 3)), 0.3 * rng.normal(size=(2, 4, 4, 3))
  out = jnp.asarray(np.concatenate([mean, log_scale], -1), jnp.float32)
  # -log p(x) of the density, plus -log Δ = log 128 per dimension for bins of width 2/256.
  density_nats = -stats.norm.logpdf(np.asarray(x, np.float64), mean, np.exp(log_scale))
  np.testing.assert_allclose(losses.GAUSSIAN.nll(out, x),
                             density_nats.sum((1, 2, 3)) + 48 * math.log(128.0), rtol=1e-5)


@pytest.mark.parametrize("mean,scale,values", [(0.1, 0.3, [3, 100, 128, 140, 200]),
                                               (-0.5, 0.05, [60, 64, 68])])
def test_dequantized_gaussian_nats_bound_the_discrete_nats(mean, scale, values):
  """Theis et al. 2016: E_u[-log p(x + u)] - D log Δ >= -log P(x), P(x) the density's mass on
  x's bin; for a density nearly flat over a bin the two agree. The discrete side is exact (the
  normal CDF over the bins that dequantize11 fills), so a wrong sign, width or bin is caught."""
  values = np.array(values, np.uint8)
  draws = 20_000
  x = data_lib.preprocess(jnp.asarray(np.repeat(values, draws).reshape(-1, 1, 1, 1)),
                          jax.random.key(1), "dequantize11")
  lower = values.astype(np.float64) / 128.0 - 1.0  # x's bin: [v/128 - 1, (v + 1)/128 - 1)
  xs = np.asarray(x, np.float64).reshape(len(values), draws)
  assert np.all((xs >= lower[:, None]) & (xs < lower[:, None] + 1 / 128))
  discrete = -np.log(stats.norm.cdf(lower + 1 / 128, mean, scale)
                     - stats.norm.cdf(lower, mean, scale))
  out = jnp.concatenate([jnp.full_like(x, mean), jnp.full_like(x, math.log(scale))], -1)
  nats = np.asarray(losses.GAUSSIAN.nll(out, x), np.float64).reshape(len(values), draws)
  gap = nats.mean(1) - discrete
  standard_error = nats.std(1) / math.sqrt(draws)
  assert np.all(gap > -4 * standard_error), (gap, standard_error)
  # The Jensen gap is at most ~1e-3 nats here; the error of a wrong bin width is >= 0.69 nats.
  np.testing.assert_allclose(gap, 0.0, atol=2e-3 + 4 * standard_error.max())


@pytest.mark.parametrize("name", sorted(losses.LIKELIHOODS))
def test_likelihoods_leave_padding_out(name):
  """With mask = real_pixels(spec), the NLL is the unpadded image's: what lies in the padding
  (of the data or of the decoder's output) changes nothing."""
  lik = losses.LIKELIHOODS[name]
  spec = DataSpec((8, 7, 2), 10, padding=((1, 2), (3, 0)))
  rng = np.random.default_rng(8)
  out = jnp.asarray(rng.normal(size=(2, 8, 7, 2 * lik.params_per_channel)), jnp.float32)
  x = jnp.asarray({"bernoulli": rng.integers(0, 2, (2, 8, 7, 2)),
                   "discretized_logistic": rng.integers(0, 256, (2, 8, 7, 2)) / 127.5 - 1.0,
                   "gaussian": rng.uniform(-1.0, 1.0, (2, 8, 7, 2))}[name], jnp.float32)
  mask = real_pixels(spec)
  nll = lik.nll(out, x, mask=mask)
  crop = lambda a: a[:, 1:6, 3:]
  np.testing.assert_allclose(nll, lik.nll(crop(out), crop(x)), rtol=1e-6)
  junk_x = jnp.where(mask > 0, x, 7.0)
  junk_out = jnp.where(mask > 0, out, 1e4)
  np.testing.assert_array_equal(lik.nll(junk_out, junk_x, mask=mask), nll)


# ----- Likelihoods by name ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(losses.LIKELIHOODS))
def test_likelihood_shapes_and_ranges(name):
  lik = losses.get_likelihood(name)
  out = 3.0 * jnp.asarray(np.random.default_rng(4).normal(
      size=(2, 4, 4, 3 * lik.params_per_channel)), jnp.float32)
  x = jnp.zeros((2, 4, 4, 3))
  assert lik.nll(out, x).shape == (2,)
  for image in (jax.jit(lik.mean)(out), jax.jit(lik.sample)(jax.random.key(5), out)):
    assert image.shape == (2, 4, 4, 3) and image.dtype == jnp.float32
    assert bool(jnp.all((image >= 0.0) & (image <= 1.0)))


def test_discretized_logistic_samples_lie_on_the_grid():
  out = jnp.asarray(np.random.default_rng(6).normal(size=(2, 4, 4, 2)), jnp.float32)
  image = jax.jit(losses.DISCRETIZED_LOGISTIC.sample)(jax.random.key(6), out)
  np.testing.assert_allclose(image * 255.0, jnp.round(image * 255.0), atol=1e-4)


def test_get_likelihood_resolves_import_paths(monkeypatch):
  custom = losses.Likelihood(nll=losses.bernoulli_nll, params_per_channel=1,
                             mean=jax.nn.sigmoid, sample=losses.BERNOULLI.sample,
                             preprocess=("binarize",))
  module = types.ModuleType("my_pkg_losses")
  module.my_nll = custom
  module.not_a_likelihood = losses.bernoulli_nll
  monkeypatch.setitem(sys.modules, "my_pkg_losses", module)
  assert losses.get_likelihood("my_pkg_losses:my_nll") is custom
  with pytest.raises(TypeError):
    losses.get_likelihood("my_pkg_losses:not_a_likelihood")
  with pytest.raises(ValueError):
    losses.get_likelihood("bernouli")


# ----- Pixel models' likelihoods --------------------------------------------------------------


def test_categorical_nll_against_scipy():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(2, 3, 4, 256)).astype(np.float32)
  targets = rng.integers(0, 256, (2, 3, 4))
  log_p = scipy.special.log_softmax(logits.astype(np.float64), axis=-1)
  expected = -np.take_along_axis(log_p, targets[..., None], -1).sum(axis=(1, 2, 3))
  np.testing.assert_allclose(losses.categorical_nll(jnp.asarray(logits), jnp.asarray(targets)),
                             expected, rtol=1e-5)


def test_logistic_mixture_is_a_distribution_over_the_256_values_and_one_component_is_the_logistic():
  rng = np.random.default_rng(0)
  params = jnp.asarray(rng.normal(size=(1, 9)) * [1, 1, 1, 0.5, 0.5, 0.5, 1, 1, 1], jnp.float32)
  values = jnp.arange(256) / 127.5 - 1.0
  nll = jax.vmap(lambda v: losses.discretized_logistic_mixture_nll(params, v[None]))(values)
  np.testing.assert_allclose(np.exp(-np.asarray(nll, np.float64)).sum(), 1.0, rtol=1e-5)
  one = params[:, [0, 3, 6]]
  x = jnp.asarray([[0.2]])
  np.testing.assert_allclose(
      losses.discretized_logistic_mixture_nll(one[:, None], x),
      losses.discretized_logistic_nll((one[:, 1:2], one[:, 2:3]), x), rtol=1e-6)


# ----- GAN loss pairs on fixed logits ---------------------------------------------------------


REAL = np.array([-3.0, -0.5, 0.0, 1.2, 4.0])
FAKE = np.array([2.0, 0.3, -1.0, -2.5, 0.0])


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _close(actual, expected):
  np.testing.assert_allclose(np.asarray(actual), expected, rtol=1e-6, atol=1e-6)


def test_minimax_and_non_saturating_match_their_formulas():
  d_real, d_fake = _sigmoid(REAL), _sigmoid(FAKE)
  real, fake = jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32)
  _close(losses.minimax_d(real, fake), -np.log(d_real) - np.log(1.0 - d_fake))
  _close(losses.minimax_g(fake), np.log(1.0 - d_fake))
  _close(losses.non_saturating_g(fake), -np.log(d_fake))
  # Written out for the first pair: -log σ(-3) - log(1 - σ(2)) = 3.04859 + 2.12693.
  _close(losses.minimax_d(real, fake)[0], 3.0485874 + 2.1269280)


def test_lsgan_hinge_wasserstein_match_their_formulas():
  real, fake = jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32)
  _close(losses.lsgan_d(real, fake), 0.5 * (REAL - 1.0) ** 2 + 0.5 * FAKE ** 2)
  _close(losses.lsgan_g(fake), 0.5 * (FAKE - 1.0) ** 2)
  _close(losses.lsgan_d(real, fake, a=-1.0, b=2.0),
         0.5 * (REAL - 2.0) ** 2 + 0.5 * (FAKE + 1.0) ** 2)
  _close(losses.hinge_d(real, fake), np.maximum(0, 1 - REAL) + np.maximum(0, 1 + FAKE))
  _close(losses.hinge_d(real, fake), [4.0 + 3.0, 1.5 + 1.3, 1.0 + 0.0, 0.0 + 0.0, 0.0 + 1.0])
  _close(losses.hinge_g(fake), -FAKE)
  _close(losses.wasserstein_d(real, fake), FAKE - REAL)
  _close(losses.wasserstein_g(fake), -FAKE)


def test_log_losses_are_stable_at_extreme_logits():
  big = jnp.array([100.0, -100.0])
  _close(losses.minimax_d(big, -big), [0.0, 200.0])
  _close(losses.minimax_g(big), [-100.0, 0.0])
  _close(losses.non_saturating_g(big), [0.0, 100.0])


def test_minimax_generator_saturates_and_non_saturating_does_not():
  """Where D rejects the fakes (D(G(z)) → 0), log(1 - D) has a vanishing gradient and
  -log D does not (Goodfellow et al. 2014, section 3)."""
  fake = jnp.array([-10.0, -5.0, 0.0])
  minimax = jax.grad(lambda f: jnp.sum(losses.minimax_g(f)))(fake)
  non_saturating = jax.grad(lambda f: jnp.sum(losses.non_saturating_g(f)))(fake)
  _close(minimax, -_sigmoid(np.array([-10.0, -5.0, 0.0])))
  _close(non_saturating, -(1.0 - _sigmoid(np.array([-10.0, -5.0, 0.0]))))
  assert abs(minimax[0]) < 1e-4 and abs(non_saturating[0]) > 0.99
  assert float(minimax[2]) == pytest.approx(float(non_saturating[2]))  # equal at D = 1/2


@pytest.mark.parametrize("name", sorted(losses.GAN_LOSSES))
def test_losses_are_unreduced_and_reject_column_logits(name):
  pair = losses.get_gan_loss(name)
  real, fake = jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32)
  assert pair.d(real, fake).shape == (5,) and pair.g(fake).shape == (5,)
  with pytest.raises(AssertionError):
    pair.d(real[:, None], fake[:, None])
  with pytest.raises(AssertionError):
    pair.d(real, fake[:4])
  with pytest.raises(AssertionError):
    pair.g(fake[:, None])


def test_gan_loss_table():
  assert set(losses.GAN_LOSSES) == {"minimax", "non_saturating", "lsgan", "lsgan_sigmoid", "hinge",
                                    "wgan_gp"}
  assert [n for n, p in losses.GAN_LOSSES.items() if p.gradient_penalty] == ["wgan_gp"]
  wgan = losses.get_gan_loss("wgan_gp")
  assert wgan.d is losses.wasserstein_d and wgan.g is losses.wasserstein_g
  assert losses.get_gan_loss("minimax").g is losses.minimax_g
  assert losses.get_gan_loss("non_saturating").g is losses.non_saturating_g


def test_get_gan_loss_resolves_import_paths(monkeypatch):
  custom = losses.GanLoss(losses.hinge_d, losses.non_saturating_g, gradient_penalty=True)
  module = types.ModuleType("my_pkg_gan_losses")
  module.my_pair = custom
  module.not_a_pair = losses.hinge_d
  monkeypatch.setitem(sys.modules, "my_pkg_gan_losses", module)
  assert losses.get_gan_loss("my_pkg_gan_losses:my_pair") is custom
  with pytest.raises(TypeError):
    losses.get_gan_loss("my_pkg_gan_losses:not_a_pair")
  with pytest.raises(ValueError):
    losses.get_gan_loss("wgan")


# ----- GAN penalties --------------------------------------------------------------------------


def _linear_critic(w):
  return lambda x: x.reshape(x.shape[0], -1) @ w


def test_gradient_penalty_vanishes_for_a_unit_norm_linear_critic():
  rng = np.random.default_rng(0)
  real, fake = (jnp.asarray(rng.normal(size=(6, 2, 2, 1)), jnp.float32) for _ in range(2))
  w = jnp.array([0.5, -0.5, 0.5, 0.5])  # ‖w‖ = 1: the gradient everywhere
  _close(losses.gradient_penalty(_linear_critic(w), real, fake, jax.random.key(0)), np.zeros(6))
  penalty = losses.gradient_penalty(_linear_critic(3.0 * w), real, fake, jax.random.key(0))
  _close(penalty, np.full(6, (3.0 - 1.0) ** 2))
  assert penalty.shape == (6,)


def test_gradient_penalty_interpolates_per_example():
  """With critic ½‖x‖², ∇ at x̂ = εx + (1-ε)·0 is εx, so the penalty reveals each ε."""
  x = jnp.ones((256, 3)) / np.sqrt(3.0)  # ‖x‖ = 1, so penalty = (ε - 1)²
  critic = lambda v: 0.5 * jnp.sum(v ** 2, axis=-1)
  eps = 1.0 - np.sqrt(np.asarray(losses.gradient_penalty(critic, x, jnp.zeros_like(x),
                                                         jax.random.key(1))))
  assert np.all((eps >= 0) & (eps <= 1)) and len(np.unique(eps.round(6))) > 250
  assert abs(eps.mean() - 0.5) < 0.06 and abs(eps.var() - 1 / 12) < 0.02  # U[0, 1]


def test_gradient_penalty_gradient_is_finite_where_the_critic_is_flat():
  real, fake = jnp.ones((4, 3)), jnp.zeros((4, 3))
  grad = jax.grad(lambda w: jnp.sum(losses.gradient_penalty(
      _linear_critic(w), real, fake, jax.random.key(0))))(jnp.zeros(3))
  assert np.all(np.isfinite(grad))


def test_r1_penalty_is_the_squared_input_gradient_norm():
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(5, 2, 3)), jnp.float32)
  w = jnp.asarray(rng.normal(size=6), jnp.float32)
  _close(losses.r1_penalty(_linear_critic(w), x), np.full(5, np.sum(np.square(w))))
  quadratic = lambda v: 0.5 * jnp.sum(v ** 2, axis=(1, 2))
  _close(losses.r1_penalty(quadratic, x), np.sum(np.square(np.asarray(x)), axis=(1, 2)))
