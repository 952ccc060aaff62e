"""jaxgen.metrics.stats: streamed feature statistics against batch statistics, and the Fréchet
distance against pytorch-fid's, closed forms and a symmetric square root."""

import types

import numpy as np
import pytest
from scipy import linalg

from jaxgen import metrics
from jaxgen.metrics import stats


def _random_covariance(rng, dim, scale=1.0):
  a = rng.normal(size=(dim, 2 * dim))
  return scale * a @ a.T / (2 * dim)


# ----- Streaming statistics ---------------------------------------------------------------------


def test_feature_stats_over_uneven_batches_equal_batch_statistics():
  rng = np.random.default_rng(0)
  # A large common offset: a naive running sum of squares would lose most digits to it.
  features = 1e4 + rng.normal(size=(103, 7)) @ rng.normal(size=(7, 7))
  s = metrics.FeatureStats.empty(7)
  for batch in np.split(features, [0, 1, 18, 68]):  # sizes 0, 1, 17, 50, 35
    s = s.update(batch)
  assert s.count == 103
  np.testing.assert_allclose(s.mean, features.mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(s.cov, np.cov(features, rowvar=False, ddof=1), rtol=1e-8)


def test_feature_stats_merge_is_order_independent():
  rng = np.random.default_rng(1)
  a, b, c = (rng.normal(loc=i, size=(n, 4)) for i, n in enumerate((5, 11, 2)))
  left = metrics.FeatureStats.of(a).merge(metrics.FeatureStats.of(b)).merge(
      metrics.FeatureStats.of(c))
  right = metrics.FeatureStats.of(c).merge(metrics.FeatureStats.of(b).update(a))
  np.testing.assert_allclose(left.mean, right.mean, rtol=1e-12)
  np.testing.assert_allclose(left.cov, right.cov, rtol=1e-12)
  np.testing.assert_allclose(left.cov, np.cov(np.concatenate([a, b, c]), rowvar=False),
                             rtol=1e-12)


def test_feature_stats_errors():
  with pytest.raises(ValueError, match="at least 2"):
    metrics.FeatureStats.empty(3).update(np.ones((1, 3))).cov
  with pytest.raises(ValueError, match="dimensions"):
    metrics.FeatureStats.empty(3).update(np.ones((4, 2)))
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    metrics.FeatureStats.of(np.ones(3))


# ----- Fréchet distance -------------------------------------------------------------------------


@pytest.mark.parametrize("num, dim", [(200, 16), (12, 24)])  # full rank; singular covariances
def test_frechet_distance_matches_pytorch_fid(pytorch_fid_frechet, num, dim):
  rng = np.random.default_rng(num)
  f1 = rng.normal(size=(num, dim))
  f2 = 0.3 + rng.normal(size=(num, dim)) @ rng.normal(scale=0.5, size=(dim, dim))
  s1, s2 = metrics.FeatureStats.of(f1), metrics.FeatureStats.of(f2)
  ours = metrics.frechet_distance(s1.mean, s1.cov, s2.mean, s2.cov)
  reference = pytorch_fid_frechet(s1.mean, s1.cov, s2.mean, s2.cov)
  assert ours > 0
  np.testing.assert_allclose(ours, reference, rtol=1e-6)


def test_frechet_distance_closed_form_for_diagonal_covariances():
  rng = np.random.default_rng(2)
  mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
  var1, var2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
  expected = np.sum((mu1 - mu2)**2) + np.sum(var1 + var2 - 2.0 * np.sqrt(var1 * var2))
  ours = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
  np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_frechet_distance_with_equal_covariances_is_the_squared_mean_distance():
  rng = np.random.default_rng(3)
  cov = _random_covariance(rng, 8)
  mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
  np.testing.assert_allclose(metrics.frechet_distance(mu1, cov, mu2, cov),
                             np.sum((mu1 - mu2)**2), rtol=1e-8)
  assert abs(metrics.frechet_distance(mu1, cov, mu1, cov)) < 1e-10


def test_frechet_distance_matches_symmetric_square_root():
  # Tr (C1 C2)^½ = Tr (C1^½ C2 C1^½)^½, a symmetric PSD root: here by eigendecomposition.
  rng = np.random.default_rng(4)
  cov1, cov2 = _random_covariance(rng, 10), _random_covariance(rng, 10, scale=2.0)
  mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
  root1 = linalg.sqrtm(cov1).real
  eigenvalues = linalg.eigvalsh(root1 @ cov2 @ root1)
  expected = (np.sum((mu1 - mu2)**2) + np.trace(cov1) + np.trace(cov2)
              - 2.0 * np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))
  np.testing.assert_allclose(metrics.frechet_distance(mu1, cov1, mu2, cov2), expected,
                             rtol=1e-9)


def test_frechet_distance_retries_a_non_finite_root_with_eps(monkeypatch):
  calls = []

  def sqrtm(a):
    calls.append(a)
    return np.full_like(a, np.nan) if len(calls) == 1 else linalg.sqrtm(a)
  monkeypatch.setattr(stats, "linalg", types.SimpleNamespace(sqrtm=sqrtm))
  var1, var2 = np.array([1.0, 0.0, 2.0]), np.array([0.0, 3.0, 0.5])
  eps = 1e-2
  ours = metrics.frechet_distance(np.zeros(3), np.diag(var1), np.zeros(3), np.diag(var2), eps=eps)
  # Only the root sees the offset; the traces keep the covariances as given.
  expected = np.sum(var1 + var2) - 2.0 * np.sum(np.sqrt((var1 + eps) * (var2 + eps)))
  assert len(calls) == 2
  np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_frechet_distance_rejects_a_complex_root():
  with pytest.raises(ValueError, match="imaginary"):
    metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), -np.eye(3))
  with pytest.raises(ValueError, match="covariances must"):
    metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
