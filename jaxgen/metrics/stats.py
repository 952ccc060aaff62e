"""Streaming feature statistics and the Fréchet distance between Gaussians (FID), in float64.

FID compares N(mean, cov) fitted to two sets of features. The statistics accumulate batch by
batch in fixed memory ([D] + [D, D] float64, whatever the number of samples), so features never
need to be held at once; batches merge with Chan et al.'s pairwise update, which stays accurate
where a running sum of squares would cancel.
"""

from typing import NamedTuple

import numpy as np
from scipy import linalg


class FeatureStats(NamedTuple):
  """Mean and scatter of the feature vectors seen so far; immutable, updates return new stats.

    count: number of feature vectors.
    mean: [D] float64 mean.
    scatter: [D, D] float64 sum of outer products of deviations from `mean`.
  """
  count: int
  mean: np.ndarray
  scatter: np.ndarray

  @classmethod
  def empty(cls, dim: int) -> "FeatureStats":
    return cls(0, np.zeros(dim), np.zeros((dim, dim)))

  @classmethod
  def of(cls, features: np.ndarray) -> "FeatureStats":
    """The statistics of one [N, D] batch."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2:
      raise ValueError(f"features must be [N, D], got shape {features.shape}")
    mean = features.mean(axis=0) if len(features) else np.zeros(features.shape[1])
    centered = features - mean
    return cls(len(features), mean, centered.T @ centered)

  def update(self, features: np.ndarray) -> "FeatureStats":
    """Adds an [N, D] batch of features."""
    return self.merge(FeatureStats.of(features))

  def merge(self, other: "FeatureStats") -> "FeatureStats":
    """The statistics of the union of both sets (e.g. from two hosts or two shards)."""
    if other.mean.shape != self.mean.shape:
      raise ValueError(f"feature dimensions differ: {self.mean.shape[0]} vs {other.mean.shape[0]}")
    if other.count == 0:
      return self
    count = self.count + other.count
    delta = other.mean - self.mean
    mean = self.mean + delta * (other.count / count)
    scatter = self.scatter + other.scatter + np.outer(delta, delta) * (
        self.count * other.count / count)
    return FeatureStats(count, mean, scatter)

  @property
  def cov(self) -> np.ndarray:
    """[D, D] unbiased sample covariance (ddof=1), as np.cov and the FID reference code use."""
    if self.count < 2:
      raise ValueError(f"a covariance needs at least 2 samples, got {self.count}")
    return self.scatter / (self.count - 1)


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray,
                     *, eps: float = 1e-6) -> float:
  """||mean1 - mean2||² + Tr(cov1 + cov2 - 2 (cov1 cov2)^½), in float64.

  Follows the FID reference code (pytorch-fid, TTUR) where it has to choose: if the square root
  of the product is not finite (a singular product), eps·I is added to both covariances and the
  root taken again; a complex root whose diagonal has an imaginary part within 1e-3 of zero is
  rounding error and is dropped, anything larger means the inputs are not covariances and
  raises.
  """
  mean1, mean2 = (np.atleast_1d(np.asarray(m, np.float64)) for m in (mean1, mean2))
  cov1, cov2 = (np.atleast_2d(np.asarray(c, np.float64)) for c in (cov1, cov2))
  dim = mean1.shape[0]
  if mean1.shape != (dim,) or mean2.shape != (dim,):
    raise ValueError(f"means must both be [D], got {mean1.shape} and {mean2.shape}")
  if cov1.shape != (dim, dim) or cov2.shape != (dim, dim):
    raise ValueError(f"covariances must both be [{dim}, {dim}], got {cov1.shape} and {cov2.shape}")

  covmean = linalg.sqrtm(cov1 @ cov2)
  if not np.isfinite(covmean).all():
    offset = eps * np.eye(dim)
    covmean = linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
  if np.iscomplexobj(covmean):
    imag = np.abs(np.diagonal(covmean).imag).max()
    if imag > 1e-3:
      raise ValueError(f"the square root of cov1 @ cov2 has an imaginary component of {imag:.3g} "
                       "on its diagonal: are both matrices covariances (symmetric, PSD)?")
    covmean = covmean.real

  diff = mean1 - mean2
  return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(covmean))
