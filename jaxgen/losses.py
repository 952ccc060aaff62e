"""Pure, unreduced, shape-checked losses (optax style: hyperparameters are keyword-only).

Callers reduce; a loss never averages over the batch, so per-example values stay available
for evaluation (likelihoods, bits per dimension) and for importance weighting.
"""

import math
from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxgen import registry

_LOG_2PI = math.log(2.0 * math.pi)


def _sum_per_example(x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
  """[B, ...] -> [B]: sums every axis but the leading batch axis, leaving out the elements
  where `mask` (broadcastable to x[0], e.g. [H, W, 1]) is 0."""
  if mask is not None:
    # where, not a product: a left-out element's inf or NaN must not reach the sum.
    x = jnp.where(mask > 0, x, 0.0)
  return jnp.sum(x, axis=tuple(range(1, x.ndim)))


# ---------------------------------------------------------------------------------------------
# Diagonal Gaussians (latent variables). Reduce over the last axis only, so they apply to
# [B, D] latents as well as to [K, B, D] importance samples or [T, B, D] DRAW steps.
# ---------------------------------------------------------------------------------------------


def gaussian_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
  """KL(N(mean, exp(logvar)) || N(0, I)) in nats, closed form, summed over the last axis."""
  chex.assert_equal_shape([mean, logvar])
  return 0.5 * jnp.sum(jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar, axis=-1)


def gaussian_kl_two(mean1: jax.Array, logvar1: jax.Array, mean2: jax.Array,
                    logvar2: jax.Array) -> jax.Array:
  """KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) in nats, summed over the last axis."""
  chex.assert_equal_shape([mean1, logvar1, mean2, logvar2])
  return 0.5 * jnp.sum(
      logvar2 - logvar1 + (jnp.exp(logvar1) + jnp.square(mean1 - mean2)) * jnp.exp(-logvar2)
      - 1.0, axis=-1)


def gaussian_log_prob(x: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
  """log N(x; mean, exp(logvar)) in nats, summed over the last axis."""
  chex.assert_equal_shape([x, mean, logvar])
  return -0.5 * jnp.sum(_LOG_2PI + logvar + jnp.square(x - mean) * jnp.exp(-logvar), axis=-1)


# ---------------------------------------------------------------------------------------------
# Reconstruction likelihoods p(x|z): per-example negative log-likelihood in nats, summed over
# every pixel dimension ([B, H, W, C] -> [B]), or over those where `mask` is 1 (e.g.
# methods.base.real_pixels: not the padding data.pad_to added).
# ---------------------------------------------------------------------------------------------


def bernoulli_nll(logits: jax.Array, x: jax.Array, *, mask: jax.Array | None = None
                  ) -> jax.Array:
  """-log Bernoulli(x; sigmoid(logits)) for binary x in {0, 1}.

  For x in (0, 1) this is the binary cross-entropy, which is not a normalised likelihood.
  """
  chex.assert_equal_shape([logits, x])
  log_p = x * jax.nn.log_sigmoid(logits) + (1.0 - x) * jax.nn.log_sigmoid(-logits)
  return -_sum_per_example(log_p, mask)


def categorical_nll(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """-log softmax(logits)[target] summed per example: logits [B, ..., K], integer targets
  [B, ...] in [0, K) (e.g. 8-bit subpixel values with K = 256)."""
  chex.assert_equal_shape_prefix([logits, targets], targets.ndim)
  log_p = jax.nn.log_softmax(logits, axis=-1)
  picked = jnp.take_along_axis(log_p, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]
  return -_sum_per_example(picked)


def _discretized_logistic_log_prob(mean: jax.Array, log_scale: jax.Array, x: jax.Array,
                                   num_bins: int) -> jax.Array:
  """log P(x) per element: a logistic(mean, exp(log_scale)) integrated over x's bin of the
  `num_bins`-level grid of [-1, 1], the edge bins extended to -inf and +inf."""
  half_bin = 1.0 / (num_bins - 1)
  inv_scale = jnp.exp(-log_scale)
  upper = jnp.where(x > 1.0 - half_bin, jnp.inf, (x - mean + half_bin) * inv_scale)
  lower = jnp.where(x < -1.0 + half_bin, -jnp.inf, (x - mean - half_bin) * inv_scale)
  # sigmoid(u) - sigmoid(l) = sigmoid(u) * sigmoid(-l) * (1 - exp(l - u)): stable in float32
  # for narrow bins far in either tail, where subtracting two CDFs would cancel to zero.
  return (jax.nn.log_sigmoid(upper) + jax.nn.log_sigmoid(-lower)
          + jnp.log(-jnp.expm1(lower - upper)))


def discretized_logistic_nll(params: tuple[jax.Array, jax.Array], x: jax.Array, *,
                             num_bins: int = 256, mask: jax.Array | None = None) -> jax.Array:
  """-log P(x) under a logistic(mean, exp(log_scale)) integrated over x's bin.

  x lies on the `num_bins`-level grid of [-1, 1] (bin width 2 / (num_bins - 1)); the two edge
  bins extend to -inf and +inf, so the probabilities of all bins sum to one (Salimans et al.
  2017, PixelCNN++; Kingma et al. 2016, IAF). params = (mean, log_scale), each shaped like x.
  """
  mean, log_scale = params
  chex.assert_equal_shape([mean, log_scale, x])
  return -_sum_per_example(_discretized_logistic_log_prob(mean, log_scale, x, num_bins), mask)


def discretized_logistic_mixture_nll(params: jax.Array, x: jax.Array, *,
                                     num_bins: int = 256) -> jax.Array:
  """-log P(x) under a mixture of M discretized logistics per element (PixelCNN++, Salimans et
  al. 2017, without its RGB coupling: jaxgen's pixel models order channels by masks instead).
  params [..., 3M] = [mixture logits | means | log scales] for x [...] on the grid of
  `discretized_logistic_nll`; log scales are clipped below at -7, as PixelCNN++ does."""
  chex.assert_equal_shape_prefix([params, x], x.ndim)
  logits, mean, log_scale = jnp.split(params, 3, axis=-1)
  log_p = _discretized_logistic_log_prob(mean, jnp.maximum(log_scale, -7.0), x[..., None],
                                         num_bins)
  return -_sum_per_example(jax.nn.logsumexp(jax.nn.log_softmax(logits, -1) + log_p, axis=-1))


def gaussian_nll(params: tuple[jax.Array, jax.Array], x: jax.Array, *,
                 bin_width: float | None = None, mask: jax.Array | None = None) -> jax.Array:
  """-log N(x; mean, exp(log_scale)^2) for continuous x; params = (mean, log_scale).

  A density, not a probability: its nats may be negative and are not comparable with the
  discrete likelihoods above. Data dequantized by uniform noise over bins of width Δ (e.g.
  data.preprocess "dequantize11": Δ = 2/256 over [-1, 1)) has a discrete likelihood P(x), the
  density's mass on x's bin, and -log P(x) <= E_u[-log p(x + u)] - D·log Δ (Theis et al. 2016;
  D dimensions). `bin_width` = Δ adds that -log Δ per dimension, so the nats bound the
  discrete data's from above.
  """
  mean, log_scale = params
  chex.assert_equal_shape([mean, log_scale, x])
  log_p = -0.5 * (_LOG_2PI + jnp.square((x - mean) * jnp.exp(-log_scale))) - log_scale
  if bin_width is not None:
    log_p = log_p + math.log(bin_width)
  return -_sum_per_example(log_p, mask)


# ---------------------------------------------------------------------------------------------
# Likelihoods by name: how a decoder's output tensor becomes p(x|z).
# ---------------------------------------------------------------------------------------------


class Likelihood(NamedTuple):
  """A decoder likelihood p(x|z), chosen by `config.loss`.

  Every function takes `out`, the raw decoder output of shape [B, H, W, C * params_per_channel]:
  the parameters are `params_per_channel` consecutive blocks of C channels along the last axis
  (e.g. [means | log_scales]; see `split_params`), so a decoder only needs to know the count.

    nll(out, x, *, mask=None) -> [B]: negative log-likelihood of images x [B, H, W, C] in nats,
        over the pixels where `mask` ([H, W, 1]) is 1, or all of them.
    params_per_channel: decoder output channels per image channel.
    mean(out) -> [B, H, W, C] float32 in [0, 1]: the image to display.
    sample(key, out) -> [B, H, W, C] float32 in [0, 1]: a draw from p(x|z), in display range.
    preprocess: the data.preprocess modes (jaxgen.data.preprocess.MODES) whose output this is
        a likelihood of; methods refuse the others (e.g. a Bernoulli of [-1, 1] pixels).
  """
  nll: Callable[..., jax.Array]
  params_per_channel: int
  mean: Callable[[jax.Array], jax.Array]
  sample: Callable[[jax.Array, jax.Array], jax.Array]
  preprocess: tuple[str, ...]


def split_params(out: jax.Array, num: int) -> tuple[jax.Array, ...]:
  """[..., C * num] -> `num` arrays of [..., C], in the block layout `Likelihood` documents."""
  return tuple(jnp.split(out, num, axis=-1))


def _to_unit(x: jax.Array) -> jax.Array:
  """[-1, 1] data scale -> [0, 1] display scale, clipping what a density puts outside."""
  return (jnp.clip(x, -1.0, 1.0) + 1.0) / 2.0


def _logistic_sample(key: jax.Array, out: jax.Array) -> jax.Array:
  mean, log_scale = split_params(out, 2)
  u = jax.random.uniform(key, mean.shape, minval=1e-5, maxval=1.0 - 1e-5)
  x = mean + jnp.exp(log_scale) * (jnp.log(u) - jnp.log1p(-u))
  return jnp.round(_to_unit(x) * 255.0) / 255.0  # clipping = the edge bins; round = the grid


def _gaussian_sample(key: jax.Array, out: jax.Array) -> jax.Array:
  mean, log_scale = split_params(out, 2)
  return _to_unit(mean + jnp.exp(log_scale) * jax.random.normal(key, mean.shape))


# Binary data in {0, 1}.
BERNOULLI = Likelihood(
    nll=bernoulli_nll,
    params_per_channel=1,
    mean=jax.nn.sigmoid,
    sample=lambda key, out: jax.random.bernoulli(key, jax.nn.sigmoid(out)).astype(jnp.float32),
    preprocess=("binarize",))

# Data in [-1, 1] on the 256-level grid. The displayed mean is the logistic's location clipped
# to [-1, 1] (the edge bins make the exact mean differ only near the edges).
DISCRETIZED_LOGISTIC = Likelihood(
    nll=lambda out, x, *, mask=None: discretized_logistic_nll(split_params(out, 2), x,
                                                              mask=mask),
    params_per_channel=2,
    mean=lambda out: _to_unit(split_params(out, 2)[0]),
    sample=_logistic_sample,
    preprocess=("scale11",))

# 8-bit data dequantized over [-1, 1): 256 bins of width 2/256. Its nats include the
# dequantization correction (see `gaussian_nll`), so they and their bits/dim bound those of
# the discrete data, comparable with the discrete likelihoods' figures.
GAUSSIAN = Likelihood(
    nll=lambda out, x, *, mask=None: gaussian_nll(split_params(out, 2), x, bin_width=2.0 / 256,
                                                  mask=mask),
    params_per_channel=2,
    mean=lambda out: _to_unit(split_params(out, 2)[0]),
    sample=_gaussian_sample,
    preprocess=("dequantize11",))

LIKELIHOODS = {
    "bernoulli": BERNOULLI,
    "discretized_logistic": DISCRETIZED_LOGISTIC,
    "gaussian": GAUSSIAN,
}


def get_likelihood(name: str) -> Likelihood:
  """A name from LIKELIHOODS, or "module:attribute" naming a user's `Likelihood`."""
  likelihood = registry.resolve(name, LIKELIHOODS, kind="likelihood")
  if not isinstance(likelihood, Likelihood):
    raise TypeError(f"likelihood {name!r} is a {type(likelihood).__name__}, not a Likelihood")
  return likelihood


def check_preprocess(name: str, likelihood: Likelihood, preprocess: str) -> None:
  """A one-line ValueError unless data.preprocess `preprocess` makes the data that likelihood
  `name` is a likelihood of (e.g. a Bernoulli of scale11 pixels would score nothing)."""
  if preprocess not in likelihood.preprocess:
    modes = " or ".join(map(repr, likelihood.preprocess))
    raise ValueError(f"likelihood {name!r} models data.preprocess {modes} data, but "
                     f"data.preprocess is {preprocess!r}")


# ---------------------------------------------------------------------------------------------
# GAN losses on discriminator logits (pre-sigmoid outputs for the log losses, raw scores for
# least squares, hinge and Wasserstein). Discriminator losses take (real, fake) logits of
# shape [B] each and return [B]; generator losses take fake logits [B] and return [B].
# ---------------------------------------------------------------------------------------------


def _check_logits(*logits: jax.Array) -> None:
  """One score per example: a [B, 1] discriminator output would silently broadcast against a
  [B] one into [B, B]."""
  chex.assert_rank(logits, 1)
  chex.assert_equal_shape(logits)


def minimax_d(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """-log D(x) - log(1 - D(G(z))) with D = sigmoid(logits) (Goodfellow et al. 2014)."""
  _check_logits(real_logits, fake_logits)
  return jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)


def minimax_g(fake_logits: jax.Array) -> jax.Array:
  """log(1 - D(G(z))): the saturating generator loss of the minimax game, computed as
  -softplus(logits). Its gradient, -D(G(z)), vanishes where D rejects the fakes confidently,
  which is why `non_saturating_g` is used in practice."""
  _check_logits(fake_logits)
  return -jax.nn.softplus(fake_logits)


def non_saturating_g(fake_logits: jax.Array) -> jax.Array:
  """-log D(G(z)) (Goodfellow et al. 2014, section 3): the same fixed point as the minimax
  loss, with gradients -(1 - D(G(z))) that are strongest where the fakes are rejected."""
  _check_logits(fake_logits)
  return jax.nn.softplus(-fake_logits)


def lsgan_d(real_logits: jax.Array, fake_logits: jax.Array, *, a: float = 0.0,
            b: float = 1.0) -> jax.Array:
  """½(D(x) - b)² + ½(D(G(z)) - a)² (Mao et al. 2017, eq. 2; a=0, b=1: fake 0, real 1)."""
  _check_logits(real_logits, fake_logits)
  return 0.5 * jnp.square(real_logits - b) + 0.5 * jnp.square(fake_logits - a)


def lsgan_g(fake_logits: jax.Array, *, c: float = 1.0) -> jax.Array:
  """½(D(G(z)) - c)²: the generator wants its fakes scored as real (c = b = 1)."""
  _check_logits(fake_logits)
  return 0.5 * jnp.square(fake_logits - c)


def lsgan_sigmoid_d(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """½(σ(ℓ(x)) - 1)² + ½σ(ℓ(G(z)))²: least squares on the sigmoid of the logits, as Lucic et al.
  (2018) train "LSGAN" (compare_gan v1, gans/LSGAN.py), rather than on raw scores (`lsgan_d`,
  Mao et al.). The squares are bounded, and their gradients vanish where σ saturates."""
  return lsgan_d(jax.nn.sigmoid(real_logits), jax.nn.sigmoid(fake_logits))


def lsgan_sigmoid_g(fake_logits: jax.Array) -> jax.Array:
  """½(σ(ℓ(G(z))) - 1)²."""
  return lsgan_g(jax.nn.sigmoid(fake_logits))


def hinge_d(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """relu(1 - D(x)) + relu(1 + D(G(z))) (Lim & Ye 2017; Miyato et al. 2018)."""
  _check_logits(real_logits, fake_logits)
  return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)


def hinge_g(fake_logits: jax.Array) -> jax.Array:
  """-D(G(z)): the generator side of the hinge loss."""
  _check_logits(fake_logits)
  return -fake_logits


def wasserstein_d(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """D(G(z)) - D(x): the critic's negated Kantorovich-Rubinstein estimate (Arjovsky et al.
  2017). Meaningful only for a (softly) 1-Lipschitz critic, e.g. with `gradient_penalty`."""
  _check_logits(real_logits, fake_logits)
  return fake_logits - real_logits


def wasserstein_g(fake_logits: jax.Array) -> jax.Array:
  """-D(G(z))."""
  _check_logits(fake_logits)
  return -fake_logits


def _input_grads(critic_fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
  """∇ₓ of each example's critic score, [B, ...]. Differentiates the sum over the batch, which
  equals the per-example gradients when the critic scores examples independently (no batch
  norm in train mode; Gulrajani et al. 2017 use layer norm in the critic for this reason)."""
  def total(inputs):
    scores = critic_fn(inputs)
    chex.assert_shape(scores, (x.shape[0],))
    return jnp.sum(scores)
  return jax.grad(total)(x)


def gradient_penalty(critic_fn: Callable[[jax.Array], jax.Array], real: jax.Array,
                     fake: jax.Array, key: jax.Array, *, target: float = 1.0) -> jax.Array:
  """(‖∇ D(x̂)‖₂ - target)² at x̂ = εx + (1 - ε)x̃, ε ~ U[0, 1] per example (WGAN-GP,
  Gulrajani et al. 2017, eq. 3). critic_fn: [B, ...] -> [B]. Returns [B]; the caller weighs
  it (λ = 10 in the paper). The norm is `optax.safe_norm`, whose gradient at a zero input
  gradient is 0 rather than NaN."""
  chex.assert_equal_shape([real, fake])
  eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype)
  grads = _input_grads(critic_fn, eps * real + (1.0 - eps) * fake)
  norms = optax.safe_norm(grads.reshape(grads.shape[0], -1), 0.0, axis=-1)
  return jnp.square(norms - target)


def r1_penalty(critic_fn: Callable[[jax.Array], jax.Array], real: jax.Array) -> jax.Array:
  """‖∇ₓ D(x)‖₂² on real data (Mescheder et al. 2018, R1), [B]; papers weigh it by γ/2."""
  grads = _input_grads(critic_fn, real)
  return _sum_per_example(jnp.square(grads))


class GanLoss(NamedTuple):
  """A discriminator/generator loss pair, chosen by `config.loss`.

    d(real_logits, fake_logits) -> [B]: the discriminator's loss.
    g(fake_logits) -> [B]: the generator's loss.
    gradient_penalty: whether the method adds `gradient_penalty` to d (weight gan.gp_weight).
  """
  d: Callable[[jax.Array, jax.Array], jax.Array]
  g: Callable[[jax.Array], jax.Array]
  gradient_penalty: bool


GAN_LOSSES = {
    "minimax": GanLoss(minimax_d, minimax_g, False),
    "non_saturating": GanLoss(minimax_d, non_saturating_g, False),
    "lsgan": GanLoss(lsgan_d, lsgan_g, False),
    "lsgan_sigmoid": GanLoss(lsgan_sigmoid_d, lsgan_sigmoid_g, False),
    "hinge": GanLoss(hinge_d, hinge_g, False),
    "wgan_gp": GanLoss(wasserstein_d, wasserstein_g, True),
}


def get_gan_loss(name: str) -> GanLoss:
  """A name from GAN_LOSSES, or "module:attribute" naming a user's `GanLoss`."""
  loss = registry.resolve(name, GAN_LOSSES, kind="GAN loss")
  if not isinstance(loss, GanLoss):
    raise TypeError(f"GAN loss {name!r} is a {type(loss).__name__}, not a GanLoss")
  return loss
