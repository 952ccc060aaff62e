"""jaxgen.metrics.prdc: precision, recall, density and coverage against the papers' definitions,
sample by sample, and precision and recall against torch-fidelity's."""

import numpy as np
import pytest
from scipy.spatial import distance

from jaxgen import metrics


def _prdc_by_definition(real, fake, k):
  """The papers' definitions, sample by sample, on exact pairwise distances."""
  def radii(x):  # distance to the k-th nearest other point
    return np.array([np.sort(np.delete(distance.cdist(x[i:i + 1], x)[0], i))[k - 1]
                     for i in range(len(x))])
  r_real, r_fake = radii(real), radii(fake)
  d = distance.cdist(real, fake)  # [N, M]
  precision = np.mean([any(d[i, j] <= r_real[i] for i in range(len(real)))
                       for j in range(len(fake))])
  recall = np.mean([any(d[i, j] <= r_fake[j] for j in range(len(fake)))
                    for i in range(len(real))])
  density = np.mean([sum(d[i, j] < r_real[i] for i in range(len(real)))
                     for j in range(len(fake))]) / k
  coverage = np.mean([any(d[i, j] < r_real[i] for j in range(len(fake)))
                      for i in range(len(real))])
  return precision, recall, density, coverage


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_the_definitions(k):
  rng = np.random.default_rng(12 + k)
  # Partial overlap both ways: each set has a cluster the other lacks.
  real = np.concatenate([rng.normal(size=(35, 3)), rng.normal(loc=-2.0, size=(10, 3))])
  fake = np.concatenate([rng.normal(size=(25, 3)), rng.normal(loc=2.0, size=(15, 3))])
  ours = metrics.prdc(real, fake, k=k, block_size=16)
  expected = _prdc_by_definition(real, fake, k)
  np.testing.assert_allclose(ours, expected, rtol=1e-12)
  assert 0 < ours.precision < 1 and 0 < ours.recall < 1 and 0 < ours.coverage < 1


def test_precision_recall_match_torch_fidelity(torch_fidelity):
  rng = np.random.default_rng(18)
  real = np.concatenate([rng.normal(size=(300, 6)), rng.normal(loc=-2.0, size=(80, 6))])
  fake = np.concatenate([rng.normal(size=(200, 6)), rng.normal(loc=2.0, size=(150, 6))])
  # Its convention: features_1 generated, features_2 real.
  precision, recall = torch_fidelity.prc(torch_fidelity.tensor(fake),
                                         torch_fidelity.tensor(real), neighborhood=3)
  ours = metrics.prdc(real, fake, k=3, block_size=100)
  # Its fractions are float32 means: equal to 1e-6, far below one sample's 1/350.
  np.testing.assert_allclose([ours.precision, ours.recall], [precision, recall], rtol=1e-6)
  assert 0 < ours.precision < 1 and 0 < ours.recall < 1


def test_prdc_ball_boundaries():
  # Integer points, so distances are exact. k=1: every real radius is 1. Fake -1 and 4 lie on
  # the spheres of real 0 and 3: inside for precision (≤, as Kynkäänniemi et al.'s code),
  # outside for density and coverage (<, as Naeem et al.'s code). Fakes -1 and 4 have radius 5.
  real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[-1.0], [4.0], [20.0], [21.0]])
  assert metrics.prdc(real, fake, k=1) == metrics.PRDC(0.5, 1.0, 0.0, 0.0)
  assert _prdc_by_definition(real, fake, 1) == (0.5, 1.0, 0.0, 0.0)


def test_prdc_of_identical_sets():
  real = np.random.default_rng(13).normal(size=(50, 4))
  result = metrics.prdc(real, real.copy(), block_size=7)
  assert result.precision == result.recall == result.coverage == 1.0
  assert result.density >= 1 / 3  # each sample lies at least in its own ball


def test_prdc_of_far_apart_sets_is_zero():
  rng = np.random.default_rng(14)
  result = metrics.prdc(rng.normal(size=(30, 4)), 100.0 + rng.normal(size=(20, 4)))
  assert result == metrics.PRDC(0.0, 0.0, 0.0, 0.0)


def test_precision_counts_fake_samples_on_the_real_manifold():
  rng = np.random.default_rng(15)
  real = rng.normal(size=(40, 4))
  fake = np.concatenate([real[rng.permutation(40)[:20]], 100.0 + rng.normal(size=(20, 4))])
  assert metrics.prdc(real, fake).precision == 0.5


def test_prdc_needs_more_than_k_samples():
  with pytest.raises(ValueError, match="more than 3"):
    metrics.prdc(np.zeros((10, 2)), np.zeros((3, 2)))
