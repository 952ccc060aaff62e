"""jaxgen.metrics.inception_score: closed forms, consecutive splits, logits, and torch-fidelity's
Inception Score."""

import math

import numpy as np
import pytest
from scipy import special

from jaxgen import metrics


def test_inception_score_of_uniform_predictions_is_one():
  mean, std = metrics.inception_score(np.full((50, 8), 1 / 8))
  np.testing.assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)


def test_inception_score_of_confident_evenly_spread_predictions_is_the_class_count():
  probs = np.eye(10)[np.arange(1000) % 10]  # every split of 100 holds each class 10 times
  mean, std = metrics.inception_score(probs)
  np.testing.assert_allclose([mean, std], [10.0, 0.0], atol=1e-10)


def test_inception_score_closed_form_for_soft_predictions():
  # p(y|x) puts a on the sample's class and spreads the rest; p(y) is uniform, so
  # IS = exp(log C - H(p(y|x))) = C exp(-H).
  c, a = 5, 0.6
  rows = np.full((c, c), (1 - a) / (c - 1)) + np.eye(c) * (a - (1 - a) / (c - 1))
  entropy = -(a * math.log(a) + (1 - a) * math.log((1 - a) / (c - 1)))
  mean, std = metrics.inception_score(np.tile(rows, (20, 1)), num_splits=4)
  np.testing.assert_allclose([mean, std], [c * math.exp(-entropy), 0.0], atol=1e-10)


def test_inception_score_splits_are_consecutive():
  # First half: confident over two classes (IS 2); second half: uniform over 4 (IS 1).
  probs = np.concatenate([np.eye(4)[np.arange(10) % 2], np.full((10, 4), 0.25)])
  mean, std = metrics.inception_score(probs, num_splits=2)
  np.testing.assert_allclose([mean, std], [1.5, 0.5], atol=1e-12)


def test_inception_score_from_logits_is_from_their_softmax():
  logits = np.random.default_rng(10).normal(scale=3.0, size=(60, 7))
  np.testing.assert_allclose(metrics.inception_score(logits, from_logits=True, num_splits=3),
                             metrics.inception_score(special.softmax(logits, axis=1),
                                                     num_splits=3), rtol=1e-12)


def test_inception_score_rejects_logits_passed_as_probabilities():
  with pytest.raises(ValueError, match="from_logits"):
    metrics.inception_score(np.random.default_rng(11).normal(size=(20, 4)))
  with pytest.raises(ValueError, match="num_splits=10"):
    metrics.inception_score(np.full((5, 2), 0.5))


def test_inception_score_matches_torch_fidelity(torch_fidelity):
  logits = np.random.default_rng(17).normal(scale=2.0, size=(1003, 12))  # uneven splits
  reference = torch_fidelity.isc(torch_fidelity.tensor(logits), splits=10, shuffle=False)
  ours = metrics.inception_score(logits, from_logits=True)
  np.testing.assert_allclose(ours, [reference["inception_score_mean"],
                                    reference["inception_score_std"]], rtol=1e-10)
