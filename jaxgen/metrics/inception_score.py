"""Inception Score (Salimans et al. 2016), as the original code computes it.

IS = exp(E_x KL(p(y|x) || p(y))), with p(y) the mean prediction over the split. The original
takes p(y|x) as the softmax over the 1008 logits of the 2015 Inception network computed without
the final bias (pool3 features times the softmax weights); the caller supplies those logits or
their softmax, so this function is independent of the network.
"""

import numpy as np
from scipy import special


def inception_score(predictions: np.ndarray, *, from_logits: bool = False,
                    num_splits: int = 10) -> tuple[float, float]:
  """(mean, std) of the Inception Score over `num_splits` consecutive splits, in float64.

  Args:
    predictions: [N, C] class probabilities p(y|x), or logits with `from_logits=True`.
    from_logits: whether `predictions` are logits, to be normalised by a softmax here.
    num_splits: the original uses 10; splits are consecutive, unshuffled slices
      [i·N // num_splits, (i+1)·N // num_splits).

  Returns:
    The mean and the (population, ddof=0) standard deviation of the per-split scores.
  """
  predictions = np.asarray(predictions, np.float64)
  if predictions.ndim != 2:
    raise ValueError(f"predictions must be [N, C], got shape {predictions.shape}")
  if len(predictions) < num_splits:
    raise ValueError(f"the Inception Score needs at least num_splits={num_splits} samples, "
                     f"got {len(predictions)}")
  if from_logits:
    probs = special.softmax(predictions, axis=1)
  else:
    probs = predictions
    if (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
      raise ValueError("predictions must be probabilities (non-negative, rows summing to 1); "
                       "pass from_logits=True for logits")
  n = len(probs)
  scores = []
  for i in range(num_splits):
    part = probs[i * n // num_splits:(i + 1) * n // num_splits]
    marginal = part.mean(axis=0, keepdims=True)
    # xlogy: a class with p(y|x) = 0 contributes 0 to the KL, not 0·log 0 = nan.
    kl = (special.xlogy(part, part) - special.xlogy(part, marginal)).sum(axis=1)
    scores.append(np.exp(kl.mean()))
  return float(np.mean(scores)), float(np.std(scores))
