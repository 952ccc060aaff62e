"""jaxgen.metrics.sample_quality: cached and padded real features, scores that separate real
images from noise, KID subsets, and the range extract takes."""

import jax.numpy as jnp
import numpy as np
import pytest

from helpers.progress import record_bars
from jaxgen import data
from jaxgen.metrics import sample_quality
from jaxgen.metrics.kid import kid
from jaxgen.metrics.stats import frechet_distance


def pooled_extractor():
  """Features: 4x4 average-pooled pixels; logits: the mean brightness of 3 bands."""
  def fn(images):
    b, h, w, c = images.shape
    pooled = images.reshape(b, 4, h // 4, 4, w // 4, c).mean((2, 4)).reshape(b, -1)
    return pooled, jnp.stack([pooled[:, :5].mean(1), pooled[:, 5:10].mean(1),
                              pooled[:, 10:].mean(1)], 1)
  return sample_quality.Extractor(fn, "pooled")


@pytest.fixture(scope="module")
def fashion_test():
  return data.load("fashion_mnist", "test[:600]").images


def test_real_features_are_cached_and_padded_like_samples(tmp_path, fashion_test):
  ex = pooled_extractor()
  first = sample_quality.real_features(ex, fashion_test, key="fmnist_test", pad_to=32,
                                       batch_size=256, cache_dir=str(tmp_path))
  assert len(list(tmp_path.iterdir())) == 1
  again = sample_quality.real_features(ex, fashion_test, key="fmnist_test", pad_to=32,
                                       batch_size=100, cache_dir=str(tmp_path))
  np.testing.assert_array_equal(first.features, again.features)
  padded = np.pad(fashion_test / 255.0, ((0, 0), (2, 2), (2, 2), (0, 0))).astype(np.float32)
  direct = sample_quality.extract(ex, [padded])
  np.testing.assert_allclose(first.features, direct.features, rtol=1e-6)
  np.testing.assert_allclose(first.stats.cov, np.cov(direct.features.astype(np.float64).T),
                             rtol=1e-5, atol=1e-9)


def test_scores_separate_real_from_noise(fashion_test):
  ex = pooled_extractor()
  real = sample_quality.extract(ex, [fashion_test[:300] / 255.0])
  same = sample_quality.extract(ex, [fashion_test[300:] / 255.0])
  noise = sample_quality.extract(ex, [np.random.default_rng(0).uniform(size=(300, 28, 28, 1))])
  close = sample_quality.score(["fid", "kid", "is", "pr"], same, real)
  far = sample_quality.score(["fid", "kid", "is", "pr"], noise, real)
  assert close["fid"] < 0.1 * far["fid"] and close["kid"] < 0.1 * far["kid"]
  assert close["precision"] > 0.5 and far["precision"] == 0.0
  assert close["fid"] == pytest.approx(frechet_distance(real.stats.mean, real.stats.cov,
                                                        same.stats.mean, same.stats.cov))
  labels = np.argmax(same.logits, -1)
  assert sample_quality.score([], same, real, labels=labels)["class_accuracy"] == 1.0


def test_kid_subsets_shrink_to_the_smaller_set_and_say_so(tmp_path, fashion_test):
  ex = pooled_extractor()
  fake = [fashion_test[:250] / 255.0, fashion_test[250:400] / 255.0]
  info, scores = sample_quality.score_images(["kid"], ex, iter(fake), fashion_test[400:],
                                             key="fmnist", pad_to=0, batch_size=100,
                                             cache_dir=str(tmp_path))
  assert info["kid_subset_size"] == 200 and (info["num_samples"], info["num_real"]) == (400, 200)
  real = sample_quality.extract(ex, [fashion_test[400:] / 255.0])
  expected = kid(real.features, sample_quality.extract(ex, fake).features, rng=0,
                 subset_size=200)
  np.testing.assert_allclose([scores["kid"], scores["kid_std"]], expected, rtol=1e-5)


def test_feature_extraction_shows_what_it_extracts_and_how_many(tmp_path, monkeypatch,
                                                                 fashion_test):
  bars = record_bars(monkeypatch)
  fake = [fashion_test[:250] / 255.0, fashion_test[250:400] / 255.0]
  sample_quality.score_images(["fid"], pooled_extractor(), iter(fake), fashion_test[400:],
                              key="fmnist_test", pad_to=0, batch_size=150,
                              cache_dir=str(tmp_path), num_samples=400)
  real, samples = bars
  assert (real.desc, real.total, real.updates) == (
      "pooled features of 200 real images, fmnist_test", 200, [150, 50])
  assert (samples.desc, samples.total, samples.updates) == (
      "pooled features of 400 samples", 400, [250, 150])
  assert "400/400" in samples.text and "img/s" in samples.text


def test_extract_rejects_images_outside_the_unit_range():
  with pytest.raises(ValueError, match=r"images must be floats in \[0, 1\]"):
    sample_quality.extract(pooled_extractor(), [np.full((2, 28, 28, 1), 255.0)])
