"""Full-reference image metrics in JAX: SSIM, MS-SSIM and PSNR, per image of an NHWC batch.

Every function takes `data_range` (the span of valid pixel values: 1.0 for [0, 1], 2.0 for
[-1, 1], 255 for uint8) explicitly, because SSIM's stabilising constants and PSNR's peak depend
on it and guessing it from the data gives silently wrong figures. Images are compared in float32
(or float64 under jax_enable_x64); integer images are cast first, so uint8 differences cannot
wrap around.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

_K1, _K2 = 0.01, 0.03
_WINDOW, _SIGMA = 11, 1.5
# Wang, Simoncelli & Bovik 2003, finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gaussian_taps() -> tuple[float, ...]:
  """The normalised 1-D Gaussian (σ=1.5, 11 taps); its outer product is the 11×11 window.

  Python floats, so that they take the images' dtype."""
  x = np.arange(_WINDOW) - (_WINDOW - 1) / 2
  taps = np.exp(-0.5 * (x / _SIGMA)**2)
  return tuple(float(t) for t in taps / taps.sum())


def _filter_valid(x: jax.Array) -> jax.Array:
  """Separable Gaussian filtering of [B, H, W, C] over H and W, keeping only the positions where
  the window fits ([B, H-10, W-10, C]). Written as weighted sums of shifted slices rather than a
  convolution so that it runs at full float32 precision on every backend (no TF32)."""
  taps = _gaussian_taps()
  h, w = x.shape[1] - _WINDOW + 1, x.shape[2] - _WINDOW + 1
  x = sum(t * x[:, i:i + h] for i, t in enumerate(taps))
  return sum(t * x[:, :, i:i + w] for i, t in enumerate(taps))


def _local_moments(x: jax.Array, y: jax.Array) -> tuple[jax.Array, ...]:
  """Gaussian-weighted local means, variances and covariance over each valid window position.

  The (co)variances are population moments (as Wang et al. and skimage's
  use_sample_covariance=False) taken about the local means in a second pass,
  Σ w (x - μx)(y - μy), not as E[xy] - μx·μy: in float32 that difference cancels
  catastrophically in bright, nearly flat regions, where the variance is far below the squared
  mean (there it moved SSIM by 4e-5 against scikit-image's float64; this form, by < 1e-6)."""
  taps = _gaussian_taps()
  mu_x, mu_y = _filter_valid(x), _filter_valid(y)
  h, w = mu_x.shape[1], mu_x.shape[2]
  var_x = var_y = cov_xy = 0.0
  for i, t_i in enumerate(taps):
    for j, t_j in enumerate(taps):
      dx = x[:, i:i + h, j:j + w] - mu_x
      dy = y[:, i:i + h, j:j + w] - mu_y
      var_x += t_i * t_j * dx * dx
      var_y += t_i * t_j * dy * dy
      cov_xy += t_i * t_j * dx * dy
  return mu_x, mu_y, var_x, var_y, cov_xy


def _prepare(x: jax.Array, y: jax.Array, data_range: float) -> tuple[jax.Array, jax.Array]:
  if x.ndim != 4 or x.shape != y.shape:
    raise ValueError(f"images must be two [B, H, W, C] batches of one shape, got {x.shape} and "
                     f"{y.shape}")
  if not data_range > 0:
    raise ValueError(f"data_range must be positive, got {data_range}")
  dtype = jnp.promote_types(jnp.result_type(x, y), jnp.float32)
  return jnp.asarray(x, dtype), jnp.asarray(y, dtype)


def _ssim_and_cs(x: jax.Array, y: jax.Array, data_range: float) -> tuple[jax.Array, jax.Array]:
  """[B, C] means of the SSIM map and of its contrast-structure factor over every valid window
  position, per image and channel."""
  if min(x.shape[1:3]) < _WINDOW:
    raise ValueError(f"SSIM's {_WINDOW}x{_WINDOW} window needs images of at least that size, "
                     f"got {x.shape[1]}x{x.shape[2]}")
  c1, c2 = (_K1 * data_range)**2, (_K2 * data_range)**2
  mu_x, mu_y, var_x, var_y, cov_xy = _local_moments(x, y)
  luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
  cs = (2 * cov_xy + c2) / (var_x + var_y + c2)
  return jnp.mean(luminance * cs, axis=(1, 2)), jnp.mean(cs, axis=(1, 2))


@functools.partial(jax.jit, static_argnames="data_range")
def ssim(x: jax.Array, y: jax.Array, *, data_range: float) -> jax.Array:
  """[B] SSIM (Wang et al. 2004) of [B, H, W, C] images, H and W at least 11.

  An 11×11 Gaussian window (σ=1.5), K1=0.01, K2=0.03, the map averaged over the positions where
  the window fits ('valid') and over channels. This is scikit-image's
  `structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=data_range, channel_axis=-1)` per image.
  """
  x, y = _prepare(x, y, data_range)
  return jnp.mean(_ssim_and_cs(x, y, data_range)[0], axis=-1)


def _downsample(x: jax.Array) -> jax.Array:
  """2×2 average pooling with stride 2; an odd side first repeats its last row or column, as
  Wang's MATLAB code (symmetric padding) and tf.image.ssim_multiscale do."""
  x = jnp.pad(x, ((0, 0), (0, x.shape[1] % 2), (0, x.shape[2] % 2), (0, 0)), mode="edge")
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def ms_ssim_scales(height: int, width: int) -> int:
  """How many scales (at most 5) keep the 11×11 window inside the image at the coarsest one."""
  size, scales = min(height, width), 0
  while size >= _WINDOW and scales < len(MS_SSIM_WEIGHTS):
    size, scales = math.ceil(size / 2), scales + 1
  return scales


@functools.partial(jax.jit, static_argnames=("data_range", "num_scales"))
def ms_ssim(x: jax.Array, y: jax.Array, *, data_range: float,
            num_scales: int | None = None) -> jax.Array:
  """[B] multi-scale SSIM (Wang, Simoncelli & Bovik 2003) of [B, H, W, C] images.

  Π_j cs_j^w_j · ssim_M^w_M over scales j = 1..M, each half the size of the one before, with the
  window and constants of `ssim`; negative factors are clamped to 0 before the fractional powers.
  As tf.image.ssim_multiscale, the product is taken per channel and then averaged over channels
  (averaging cs over channels first would give a different number for colour images).

  Adaptation to small images: the standard 5 scales need at least 161 px, because the 11×11
  window must fit the coarsest scale. Smaller images keep the same window and use the first M
  scales that fit (`ms_ssim_scales`: M = 1 for 11–20 px, 2 for 21–40 px, so 28×28 and 32×32
  images get 2 scales, 3 for 41–80 px, 4 for 81–160 px), with the first M standard weights
  renormalised to sum to 1 (for M = 2: 0.1356, 0.8644). With one scale MS-SSIM is SSIM. Scores
  with different M are not comparable.

  Args:
    x, y: [B, H, W, C] images.
    data_range: the span of valid pixel values.
    num_scales: M; by default as many as fit, at most 5. More than fit is an error.
  """
  x, y = _prepare(x, y, data_range)
  fit = ms_ssim_scales(x.shape[1], x.shape[2])
  num_scales = fit if num_scales is None else num_scales
  if not 1 <= num_scales <= fit:
    raise ValueError(f"{x.shape[1]}x{x.shape[2]} images fit 1 to {fit} MS-SSIM scales with an "
                     f"{_WINDOW}x{_WINDOW} window, got num_scales={num_scales}")
  total = sum(MS_SSIM_WEIGHTS[:num_scales])
  weights = [w / total for w in MS_SSIM_WEIGHTS[:num_scales]]
  score = jnp.ones(x.shape[::3], x.dtype)  # [B, C]
  for scale, weight in enumerate(weights):
    ssim_j, cs_j = _ssim_and_cs(x, y, data_range)
    if scale == num_scales - 1:
      return jnp.mean(score * jnp.maximum(ssim_j, 0.0)**weight, axis=-1)
    score = score * jnp.maximum(cs_j, 0.0)**weight
    x, y = _downsample(x), _downsample(y)


@functools.partial(jax.jit, static_argnames="data_range")
def psnr(x: jax.Array, y: jax.Array, *, data_range: float) -> jax.Array:
  """[B] peak signal-to-noise ratio in dB, 10·log10(data_range² / MSE), the MSE taken over each
  image's pixels and channels; +inf for identical images."""
  x, y = _prepare(x, y, data_range)
  mse = jnp.mean(jnp.square(x - y), axis=(1, 2, 3))
  return 10.0 * jnp.log10(data_range**2 / mse)
