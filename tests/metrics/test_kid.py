"""jaxgen.metrics.kid: the unbiased MMD² and KID against Binkowski et al.'s definition, pair by
pair, and against torch-fidelity's KID."""

import numpy as np
import pytest

from jaxgen import metrics


def _mmd2_by_definition(x, y):
  """The unbiased MMD² of Binkowski et al. (their code's 'unbiased' estimator), pair by pair."""
  m, d = x.shape
  k = lambda a, b: (a @ b / d + 1.0)**3
  pairs = [(i, j) for i in range(m) for j in range(m) if i != j]
  k_xx = sum(k(x[i], x[j]) for i, j in pairs) / (m * (m - 1))
  k_yy = sum(k(y[i], y[j]) for i, j in pairs) / (m * (m - 1))
  k_xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
  return k_xx + k_yy - 2.0 * k_xy


def test_mmd2_matches_the_definition():
  rng = np.random.default_rng(5)
  x, y = rng.normal(size=(12, 5)), rng.normal(loc=0.5, size=(12, 5))
  np.testing.assert_allclose(metrics.mmd2_unbiased(x, y), _mmd2_by_definition(x, y), rtol=1e-10)


def test_kid_averages_the_definition_over_subsets():
  rng = np.random.default_rng(6)
  f1, f2 = rng.normal(size=(40, 4)), rng.normal(loc=0.3, size=(30, 4))
  mean, std = metrics.kid(f1, f2, rng=np.random.default_rng(7), num_subsets=6, subset_size=10)
  draws = np.random.default_rng(7)
  expected = [
      _mmd2_by_definition(f1[draws.choice(40, 10, replace=False)],
                          f2[draws.choice(30, 10, replace=False)]) for _ in range(6)]
  np.testing.assert_allclose([mean, std], [np.mean(expected), np.std(expected)], rtol=1e-10)
  assert std > 0


def test_kid_with_whole_sets_as_subsets_is_their_mmd():
  rng = np.random.default_rng(8)
  f1, f2 = rng.normal(size=(15, 3)), rng.normal(size=(15, 3))
  mean, std = metrics.kid(f1, f2, rng=0, num_subsets=3, subset_size=15)
  np.testing.assert_allclose(mean, _mmd2_by_definition(f1, f2), rtol=1e-10)
  assert std < 1e-12


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted_sets():
  rng = np.random.default_rng(9)
  f1, f2 = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
  same, _ = metrics.kid(f1, f2, rng=0, num_subsets=20, subset_size=200)
  shifted, std = metrics.kid(f1, f2 + 0.5, rng=0, num_subsets=20, subset_size=200)
  assert abs(same) < 0.005 and shifted > 10 * std and shifted > 0.1, (same, shifted, std)


def test_kid_needs_subset_size_samples():
  with pytest.raises(ValueError, match="features2 has 9"):
    metrics.kid(np.zeros((10, 2)), np.zeros((9, 2)), rng=0, subset_size=10)


def test_kid_matches_torch_fidelity(torch_fidelity):
  rng = np.random.default_rng(16)
  f1, f2 = rng.normal(size=(1200, 8)), 0.1 + rng.normal(size=(1100, 8))
  d = torch_fidelity.defaults
  assert (d["kid_subsets"], d["kid_subset_size"], d["kid_kernel_poly_degree"]) == (100, 1000, 3)
  assert (metrics.kid.__kwdefaults__["num_subsets"],
          metrics.kid.__kwdefaults__["subset_size"]) == (100, 1000)
  # Its kernel and estimator at its defaults, over 12 of the 100 subsets (each takes a while).
  reference = torch_fidelity.kid(torch_fidelity.tensor(f1), torch_fidelity.tensor(f2),
                                 rng_seed=3, verbose=False, kid_subsets=12)
  ours = metrics.kid(f1, f2, rng=3, num_subsets=12)
  np.testing.assert_allclose(
      ours, [reference["kernel_inception_distance_mean"],
             reference["kernel_inception_distance_std"]], rtol=1e-9)
  assert ours[0] > 5 * ours[1]
