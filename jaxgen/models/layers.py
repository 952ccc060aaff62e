"""Blocks shared by the model families."""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.linen.dtypes import promote_dtype


def _check_nhwc(layer: nn.Module, x: jax.Array) -> None:
  if x.ndim != 4:
    raise ValueError(f"{type(layer).__name__} expects [B, H, W, C] inputs, got shape {x.shape}")


class PhaseConvTranspose(nn.Module):
  """`nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME")` on NHWC inputs,
  computed by output phase: same parameters (`kernel` (4, 4, in, out), `bias` (out,), same
  initializers), same numbers, [B, H, W, in] -> [B, 2H, 2W, out].

  Why: XLA:CPU lowers the weight gradient of a stride-2 transposed convolution to a convolution
  with `rhs_reversal`, for which it has no library kernel (a naive loop nest, ~25x slower;
  jax-ml/jax#31662, #23783). Here the only heavy operation is one matrix product, whose
  gradients are matrix products too, fast on every backend.

  Derivation: lax.conv_transpose (transpose_kernel=False, so the kernel is not flipped) dilates x
  by 2, pads by (2, 2) and correlates with w, so y[o] = sum_k w[k] x[(o + k - 2) / 2] over even
  o + k - 2. Hence y[2m] = w[0] x[m-1] + w[2] x[m] and y[2m+1] = w[1] x[m] + w[3] x[m+1]:
  output phase a takes tap a + 2i from input row m + a + i - 1, i in {0, 1}. So every input
  pixel's contribution through all 16 taps is one product z = x @ w ([B·H·W, in] x [in, 16·out],
  the GEMM + col2im scheme of PyTorch's CPU kernel), and phase (a, b) sums four shifted slices of
  z; the phases interleave into the output. On a 2-core CPU this is 1.4-10x faster per layer
  (forward and both gradients) than four 2x2 stride-1 convolutions, most for few output channels.
  """
  features: int
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None
  kernel_init: Any = nn.initializers.lecun_normal()
  bias_init: Any = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    _check_nhwc(self, x)
    batch, height, width, in_features = x.shape
    out = self.features
    kernel = self.param("kernel", self.kernel_init, (4, 4, in_features, out), self.param_dtype)
    bias = self.param("bias", self.bias_init, (out,), self.param_dtype) \
        if self.use_bias else None
    x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
    taps = kernel.transpose(2, 0, 1, 3).reshape(in_features, 16 * out)
    z = jnp.dot(x.reshape(-1, in_features), taps, precision=self.precision)
    # The 16 tap planes by one split, whose gradient is one concatenation (slicing z tap by tap
    # would make XLA sum 16 zero-padded copies of z in the backward pass).
    planes = jnp.split(z.reshape(batch, height, width, 16, out), 16, axis=3)

    def shifted(r, c, d_row, d_col):  # tap (r, c) at [m + d_row, n + d_col], zero outside
      t = jnp.pad(planes[4 * r + c][:, :, :, 0], ((0, 0), (1, 1), (1, 1), (0, 0)))
      return t[:, 1 + d_row:1 + d_row + height, 1 + d_col:1 + d_col + width]

    def phase(a, b):  # output pixels (2m + a, 2n + b)
      return sum(shifted(a + 2 * i, b + 2 * j, a + i - 1, b + j - 1)
                 for i in (0, 1) for j in (0, 1))

    # [B, H, 2 (a), W, 2 (b), out] -> [B, 2H, 2W, out] interleaves the phases.
    y = jnp.stack([jnp.stack([phase(a, 0), phase(a, 1)], axis=3) for a in (0, 1)], axis=2)
    y = y.reshape(batch, 2 * height, 2 * width, out)
    return y if bias is None else y + bias


class PatchConv(nn.Module):
  """`nn.Conv(features, (k, k), strides=(s, s), padding="SAME")` on NHWC inputs, computed as one
  matrix product of the k·k strided input patches: same parameters (`kernel` (k, k, in, out),
  `bias` (out,), same initialization), same numbers, [B, H, W, in] -> [B, ⌈H/s⌉, ⌈W/s⌉, out].

  Why: a gradient penalty differentiates the critic's input gradient, whose weight gradient is a
  convolution with `rhs_reversal` on XLA:CPU (no library kernel; see PhaseConvTranspose). Here
  every derivative, of any order, is a matrix product, a pad or a strided slice: a penalized
  update of the InfoGAN critic is ~3x faster on a 2-core CPU (a whole WGAN-GP step of
  configs/lucic_gan.py ~2.2x), a plain one about as fast. SAME pads as XLA and TensorFlow do:
  ⌈total/2⌉ after, the rest before.
  """
  features: int
  kernel_size: int
  strides: int
  use_bias: bool = True
  kernel_init: Any = nn.initializers.lecun_normal()  # biases start at 0, as nn.Conv's

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    _check_nhwc(self, x)
    k, s = self.kernel_size, self.strides
    kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
    out = [-(-n // s) for n in x.shape[1:3]]
    pads = [max((o - 1) * s + k - n, 0) for o, n in zip(out, x.shape[1:3])]
    x = jnp.pad(x, ((0, 0), *((p // 2, p - p // 2) for p in pads), (0, 0)))
    # [B, out_h, out_w, k·k·in] in the kernel's (row, column, channel) order.
    patches = jnp.concatenate([x[:, i:i + s * (out[0] - 1) + 1:s, j:j + s * (out[1] - 1) + 1:s]
                               for i in range(k) for j in range(k)], axis=-1)
    y = patches @ kernel.reshape(-1, self.features)
    if not self.use_bias:
      return y
    return y + self.param("bias", nn.initializers.zeros_init(), (self.features,))


# ---------------------------------------------------------------------------------------------
# Causal (masked) convolutions for the autoregressive pixel models.
# ---------------------------------------------------------------------------------------------


def channel_groups(num_features: int, channels: int) -> np.ndarray:
  """The data channel (0 = R, 1 = G, 2 = B) each feature belongs to: feature f serves channel
  f % channels. Modulo (not contiguous blocks) keeps the groups aligned when a layer's 2F outputs
  are split into two halves of F (gates), as long as F is a multiple of `channels`."""
  return np.arange(num_features) % channels


def causal_mask(kernel_size: tuple[int, int], in_features: int, out_features: int,
                channels: int, mask_type: str) -> np.ndarray:
  """[kh, kw, in, out] 0/1 mask of a raster-order causal convolution (van den Oord et al. 2016,
  Pixel RNN, section 3.4), centred on tap (kh // 2, kw // 2): rows above the centre and taps left
  of it in the centre row are visible; right of it and below are not. At the centre tap an output
  feature of channel c sees input features of channels < c ("A", the first layer: the pixel's
  own value is hidden) or <= c ("B", later layers)."""
  if mask_type not in ("A", "B"):
    raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
  kh, kw = kernel_size
  ch, cw = kh // 2, kw // 2
  mask = np.zeros((kh, kw, in_features, out_features), np.float32)
  mask[:ch] = 1.0
  mask[ch, :cw] = 1.0
  g_in = channel_groups(in_features, channels)[:, None]
  g_out = channel_groups(out_features, channels)[None, :]
  mask[ch, cw] = (g_in < g_out) if mask_type == "A" else (g_in <= g_out)
  return mask


def split_channels(out: jax.Array, channels: int) -> jax.Array:
  """[..., K * channels] -> [..., channels, K], undoing `channel_groups`' layout (feature
  k * channels + c is output k of channel c)."""
  return jnp.swapaxes(out.reshape(*out.shape[:-1], -1, channels), -1, -2)


class MaskedConv(nn.Module):
  """A stride-1 'SAME' convolution with a `causal_mask`, applied to a whole map, or at one pixel
  only (for cached sampling) when `pos=(i, j)` is given. Both use the same `kernel`
  [kh, kw, in, out] and `bias`, so a model trained on whole maps samples pixel by pixel."""
  features: int
  kernel_size: tuple[int, int]
  mask_type: str
  channels: int = 1  # data channels whose order the centre tap respects (3 for RGB)
  use_bias: bool = True
  kernel_init: Any = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array, pos: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
    """[B, H, W, in] -> [B, H, W, out]; with pos = (i, j): -> [B, out], the output at pixel
    (i, j), reading rows <= i of `x` only (rows below may hold anything)."""
    in_features = x.shape[-1]
    kh, kw = self.kernel_size
    ch, cw = kh // 2, kw // 2
    kernel = self.param("kernel", self.kernel_init, (kh, kw, in_features, self.features))
    kernel = kernel * causal_mask(self.kernel_size, in_features, self.features, self.channels,
                                  self.mask_type)
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,)) \
        if self.use_bias else jnp.zeros((self.features,))
    if pos is None:
      y = jax.lax.conv_general_dilated(
          x, kernel, (1, 1), ((ch, kh - 1 - ch), (cw, kw - 1 - cw)),
          dimension_numbers=("NHWC", "HWIO", "NHWC"))
      return y + bias
    i, j = pos
    padded = jnp.pad(x, ((0, 0), (ch, 0), (cw, kw - 1 - cw), (0, 0)))  # zeros, as 'SAME' pads
    window = jax.lax.dynamic_slice(padded, (0, i, j, 0), (x.shape[0], ch + 1, kw, in_features))
    return jnp.einsum("bhwi,hwio->bo", window, kernel[:ch + 1]) + bias


def class_embed(num_classes: int, features: int) -> nn.Embed | None:
  """A layer's learned per-class bias table (zero at init, so a conditional model starts as the
  unconditional one), or None when the model is unconditional (num_classes 0)."""
  if not num_classes:
    return None
  return nn.Embed(num_classes, features, embedding_init=nn.initializers.zeros_init())


def class_bias(embed: nn.Embed | None, labels: jax.Array | None, features: int) -> jax.Array:
  """The per-class bias [B, features] from `class_embed`'s table, or zeros [1, features]."""
  if embed is None:
    return jnp.zeros((1, features))
  if labels is None:
    raise ValueError("a conditional model needs labels")
  return embed(labels)


def masked_output(hidden: MaskedConv, logits: MaskedConv, r: jax.Array,
                  channels: int) -> jax.Array:
  """The pixel models' output layers: ReLU, 1×1 `hidden`, ReLU, 1×1 `logits` (both mask B), on
  maps or pixel vectors [..., F] -> logits [..., C, K]."""
  return split_channels(logits(nn.relu(hidden(nn.relu(r)))), channels)
