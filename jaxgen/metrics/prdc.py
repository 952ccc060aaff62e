"""Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et
al. 2020) from k-nearest-neighbour balls around feature vectors.

Each real (fake) feature gets a ball whose radius is the distance to its k-th nearest other real
(fake) feature; the union of the balls estimates the manifold of the set.
  precision: fraction of fake samples inside some real ball.
  recall:    fraction of real samples inside some fake ball.
  density:   real balls containing each fake sample, averaged over fake samples, divided by k.
  coverage:  fraction of real balls containing at least one fake sample.
Precision and recall count the sphere itself (distance ≤ radius) as the authors' code does;
density and coverage count the open ball (distance < radius), as theirs does.
"""

from typing import NamedTuple

import numpy as np


class PRDC(NamedTuple):
  precision: float
  recall: float
  density: float
  coverage: float


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[n, m] Euclidean distances, through one matrix product (|a|² + |b|² - 2 a·b)."""
  squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
  return np.sqrt(np.maximum(squared, 0.0))


def _kth_neighbour_radii(features: np.ndarray, k: int, block_size: int) -> np.ndarray:
  """[N] distance from each feature to its k-th nearest neighbour, the feature itself excluded."""
  n = len(features)
  radii = np.empty(n)
  for start in range(0, n, block_size):
    block = features[start:start + block_size]
    distances = _distances(block, features)
    distances[np.arange(len(block)), start + np.arange(len(block))] = np.inf
    radii[start:start + len(block)] = np.partition(distances, k - 1, axis=1)[:, k - 1]
  return radii


def prdc(real_features: np.ndarray, fake_features: np.ndarray, *, k: int = 3,
         block_size: int = 1024) -> PRDC:
  """Precision, recall, density and coverage of fake against real [N, D] features, in float64.

  Args:
    real_features: [N, D] features of real samples.
    fake_features: [M, D] features of generated samples.
    k: the neighbourhood size; both papers recommend k = 3 (Naeem et al. use k = 5 with
      10,000 samples for density and coverage).
    block_size: rows of distances held at once; memory is O(block_size · max(N, M)).
  """
  real = np.asarray(real_features, np.float64)
  fake = np.asarray(fake_features, np.float64)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(f"features must be [N, D] with the same D, got {real.shape} and {fake.shape}")
  if min(len(real), len(fake)) <= k:
    raise ValueError(f"k={k} nearest neighbours need more than {k} samples per set, got "
                     f"{len(real)} real and {len(fake)} fake")
  real_radii = _kth_neighbour_radii(real, k, block_size)
  fake_radii = _kth_neighbour_radii(fake, k, block_size)

  fake_in_real_balls = np.zeros(len(fake), bool)
  real_in_fake_balls = np.empty(len(real), bool)
  real_ball_is_covered = np.empty(len(real), bool)
  real_balls_per_fake = np.zeros(len(fake))
  for start in range(0, len(real), block_size):
    rows = slice(start, start + block_size)
    distances = _distances(real[rows], fake)  # [block, M]
    radii = real_radii[rows, None]
    fake_in_real_balls |= (distances <= radii).any(axis=0)
    real_in_fake_balls[rows] = (distances <= fake_radii[None, :]).any(axis=1)
    real_balls_per_fake += (distances < radii).sum(axis=0)
    real_ball_is_covered[rows] = distances.min(axis=1) < real_radii[rows]
  return PRDC(precision=float(fake_in_real_balls.mean()),
              recall=float(real_in_fake_balls.mean()),
              density=float(real_balls_per_fake.mean() / k),
              coverage=float(real_ball_is_covered.mean()))
