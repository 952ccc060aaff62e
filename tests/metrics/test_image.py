"""jaxgen.metrics.image: SSIM and PSNR against scikit-image, MS-SSIM against TensorFlow and a
two-scale reference from scipy and scikit-image."""

import numpy as np
import pytest
from scipy import ndimage
from skimage import metrics as skmetrics

from jaxgen import metrics


def _image_pairs(rng, size, channels, data_range, width=None):
  """Random images and structured ones (gradients, stripes, a flat bright region), each against a
  noisy, darkened copy, in [0, data_range] (or [-1, 1] for data_range 2). The flat pair differs by
  faint noise only: its local variances lie far below the squared means, where a float32
  E[x²] - E[x]² would cancel."""
  low = -1.0 if data_range == 2 else 0.0
  width = width or size
  stripes = (np.arange(width) % 8 < 4).astype(float)
  structured = [np.outer(np.linspace(0, 1, size), stripes),
                np.outer(np.linspace(1, 0, size), 1 - stripes), np.full((size, width), 0.9)]
  x = np.stack([rng.uniform(size=(size, width, channels))]
               + [np.repeat(s[..., None], channels, -1) for s in structured])
  noise = np.array([0.03, 0.03, 0.03, 0.001])[:, None, None, None]
  y = np.clip(0.95 * x + noise * rng.normal(size=x.shape), 0, 1)
  return low + data_range * x, low + data_range * y


def _skimage_ssim(x, y, data_range):
  return np.array([skmetrics.structural_similarity(
      a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
      data_range=data_range, channel_axis=-1) for a, b in zip(x, y)])


@pytest.mark.parametrize("channels, data_range", [(1, 1.0), (3, 2.0), (3, 255.0)])
def test_ssim_matches_skimage(channels, data_range):
  x, y = _image_pairs(np.random.default_rng(16), 28, channels, data_range)
  ours = np.asarray(metrics.ssim(x, y, data_range=data_range))
  np.testing.assert_allclose(ours, _skimage_ssim(x, y, data_range), atol=1e-5, rtol=0)


def test_ssim_of_uint8_images_matches_skimage():
  rng = np.random.default_rng(17)
  x = rng.integers(0, 256, size=(3, 28, 28, 3), dtype=np.uint8)
  y = np.clip(x.astype(int) + rng.integers(-30, 30, size=x.shape), 0, 255).astype(np.uint8)
  ours = np.asarray(metrics.ssim(x, y, data_range=255))
  expected = _skimage_ssim(x.astype(np.float64), y.astype(np.float64), 255)
  np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_ssim_of_an_image_with_itself_is_one():
  x, _ = _image_pairs(np.random.default_rng(18), 28, 3, 2.0)
  np.testing.assert_allclose(metrics.ssim(x, x, data_range=2.0), 1.0, atol=1e-6)


def test_psnr_matches_skimage():
  rng = np.random.default_rng(19)
  x = rng.integers(0, 256, size=(3, 28, 28, 1), dtype=np.uint8)
  y = np.clip(x.astype(int) + rng.integers(-20, 20, size=x.shape), 0, 255).astype(np.uint8)
  expected = [skmetrics.peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(x, y)]
  np.testing.assert_allclose(metrics.psnr(x, y, data_range=255), expected, rtol=1e-5)
  assert np.isposinf(metrics.psnr(x, x, data_range=255)).all()


def _ms_ssim_two_scales_reference(x, y, data_range):
  """Two-scale MS-SSIM from scipy and skimage: cs at full scale, SSIM at half scale (2×2 means),
  with the first two standard weights renormalised; the product per channel, then the mean
  over channels."""
  c2 = (0.03 * data_range)**2
  def filt(a):  # the 11×11 Gaussian, valid positions only
    return ndimage.gaussian_filter(a, sigma=1.5, truncate=3.5, axes=(0, 1))[5:-5, 5:-5]
  def cs(a, b):  # [C]
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b = filt(a * a) - mu_a**2, filt(b * b) - mu_b**2
    return np.mean((2 * (filt(a * b) - mu_a * mu_b) + c2) / (var_a + var_b + c2), axis=(0, 1))
  def half(a):  # an odd side repeats its last row or column first
    a = np.pad(a, ((0, a.shape[0] % 2), (0, a.shape[1] % 2), (0, 0)), mode="edge")
    h, w, c = a.shape
    return a.reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))
  def ssim_per_channel(a, b):  # [C]
    return np.array([_skimage_ssim(a[None, ..., c:c + 1], b[None, ..., c:c + 1], data_range)[0]
                     for c in range(a.shape[-1])])
  w1, w2 = 0.0448 / 0.3304, 0.2856 / 0.3304
  return np.array([np.mean(cs(a, b)**w1 * ssim_per_channel(half(a), half(b))**w2)
                   for a, b in zip(x, y)])


@pytest.mark.parametrize("size, scales", [(32, 2), (90, 4), (161, 5)])
def test_ms_ssim_of_rgb_matches_tensorflow(size, scales):
  """tf.image.ssim_multiscale with the same scales and (renormalised) weights: the product over
  scales per channel, then the mean over channels."""
  tf = pytest.importorskip("tensorflow")
  rng = np.random.default_rng(24)
  # Blocks of 8x8 pixels keep contrast at the coarsest scales, where TF's float32 E[x²] - μ²
  # would cancel on white noise averaged flat.
  blocks = rng.uniform(size=(3, size // 8 + 1, size // 8 + 1, 3))
  x = np.kron(blocks, np.ones((1, 8, 8, 1)))[:, :size, :size].astype(np.float32)
  y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
  y[0] = np.clip(y[0] + np.array([0.0, 0.4, -0.4]), 0, 1)  # channels that differ in quality
  weights = np.array(metrics.MS_SSIM_WEIGHTS[:scales]) / sum(metrics.MS_SSIM_WEIGHTS[:scales])
  expected = tf.image.ssim_multiscale(tf.constant(x), tf.constant(y), max_val=1.0,
                                      power_factors=tuple(weights.tolist())).numpy()
  ours = np.asarray(metrics.ms_ssim(x, y, data_range=1.0, num_scales=scales))
  np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_ms_ssim_on_small_images_uses_two_renormalised_scales():
  assert [metrics.ms_ssim_scales(s, s) for s in (11, 20, 21, 28, 32, 40, 41, 160, 161)] == [
      1, 1, 2, 2, 2, 2, 3, 4, 5]
  for size, width in ((32, 32), (27, 31)):
    x, y = _image_pairs(np.random.default_rng(20), size, 3, 1.0, width)
    np.testing.assert_allclose(metrics.ms_ssim(x, y, data_range=1.0),
                               _ms_ssim_two_scales_reference(x, y, 1.0), atol=1e-5, rtol=0)


def test_ms_ssim_with_one_scale_is_ssim():
  x, y = _image_pairs(np.random.default_rng(21), 28, 1, 1.0)
  np.testing.assert_allclose(metrics.ms_ssim(x, y, data_range=1.0, num_scales=1),
                             metrics.ssim(x, y, data_range=1.0), rtol=1e-6)


def test_ms_ssim_is_one_for_identical_images_and_falls_with_noise():
  rng = np.random.default_rng(22)
  x = np.repeat(_image_pairs(rng, 28, 1, 1.0)[0][:2], 4, axis=0)  # two images, four noise levels
  noise = np.array([0.0, 0.02, 0.08, 0.3])[np.tile(np.arange(4), 2), None, None, None]
  y = np.clip(x + noise * rng.normal(size=x.shape), 0, 1)
  scores = np.asarray(metrics.ms_ssim(x, y, data_range=1.0)).reshape(2, 4)
  np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)
  assert (np.diff(scores, axis=1) < 0).all(), scores


def test_ms_ssim_of_anticorrelated_images_is_zero_not_nan():
  x = np.random.default_rng(23).uniform(size=(2, 28, 28, 1))
  np.testing.assert_array_equal(metrics.ms_ssim(x, 1.0 - x, data_range=1.0), 0.0)


@pytest.mark.parametrize("fn", [metrics.ssim, metrics.ms_ssim, metrics.psnr])
def test_image_metrics_reject_bad_input(fn):
  x = np.zeros((2, 28, 28, 1))
  with pytest.raises(ValueError, match="one shape"):
    fn(x, x[..., :20, :], data_range=1.0)
  with pytest.raises(ValueError, match="positive"):
    fn(x, x, data_range=0.0)


def test_ssim_rejects_images_smaller_than_the_window_and_too_many_scales():
  with pytest.raises(ValueError, match="at least that size"):
    metrics.ssim(np.zeros((1, 10, 28, 1)), np.zeros((1, 10, 28, 1)), data_range=1.0)
  with pytest.raises(ValueError, match="1 to 2 MS-SSIM scales"):
    metrics.ms_ssim(np.zeros((1, 32, 32, 1)), np.zeros((1, 32, 32, 1)), data_range=1.0,
                    num_scales=3)
