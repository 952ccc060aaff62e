"""Losses against closed forms, Monte Carlo estimates and scipy (float64)."""

import math
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
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
