"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs").

The unbiased estimator of MMD² with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³,
averaged over random equal-size subsets of both sets, as in the authors' code and
torch-fidelity. Unlike FID it is unbiased in the number of samples, so values from different
sample counts compare (with the subset size held fixed).
"""

import numpy as np


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD² between [m, D] samples x and y with the cubic polynomial kernel.

  The within-set means leave out the diagonal (k(x_i, x_i)); the cross term keeps all m² pairs,
  as the reference code does (its U-statistic would leave out i = j there too).
  """
  m = x.shape[0]
  k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
  within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
  return float(within - 2.0 * k_xy.sum() / m**2)


SUBSET_SIZE = 1000  # the reference's (Binkowski et al.'s code, torch-fidelity)


def kid(features1: np.ndarray, features2: np.ndarray, *, rng: np.random.Generator | int,
        num_subsets: int = 100, subset_size: int = SUBSET_SIZE) -> tuple[float, float]:
  """(mean, std) of the KID over `num_subsets` pairs of random subsets, in float64.

  Args:
    features1, features2: [N1, D] and [N2, D] features (e.g. Inception pool3).
    rng: a numpy Generator or a seed for it; it draws each subset without replacement.
    num_subsets: number of subset pairs; the reference uses 100.
    subset_size: samples per subset, from each set; the reference uses 1000.

  Returns:
    The mean and the (population, ddof=0) standard deviation of the per-subset MMD², as
    torch-fidelity reports them.
  """
  features1, features2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
  if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
    raise ValueError(f"features must be [N, D] with the same D, got {features1.shape} and "
                     f"{features2.shape}")
  if subset_size < 2:
    raise ValueError(f"subset_size must be at least 2, got {subset_size}")
  for name, features in (("features1", features1), ("features2", features2)):
    if len(features) < subset_size:
      raise ValueError(f"KID needs at least subset_size={subset_size} samples per set; "
                       f"{name} has {len(features)}")
  rng = np.random.default_rng(rng)
  mmds = [
      mmd2_unbiased(features1[rng.choice(len(features1), subset_size, replace=False)],
                    features2[rng.choice(len(features2), subset_size, replace=False)])
      for _ in range(num_subsets)
  ]
  return float(np.mean(mmds)), float(np.std(mmds))
