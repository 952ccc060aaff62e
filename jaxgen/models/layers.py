"""Blocks shared by the model families."""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen.dtypes import promote_dtype
from jax import lax


class PhaseConvTranspose(nn.Module):
  """`nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME")` on NHWC inputs,
  computed as its four sub-pixel phases: same parameters (`kernel` (4, 4, in, out), `bias`
  (out,), same initializers), same numbers, [B, H, W, in] -> [B, 2H, 2W, out].

  Why: XLA:CPU lowers the weight gradient of a stride-2 transposed convolution to a convolution
  with `rhs_reversal`, for which it has no library kernel (a naive loop nest, ~25x slower;
  jax-ml/jax#31662, #23783). The phases are plain stride-1 convolutions, fast on every backend.

  Derivation: lax.conv_transpose (transpose_kernel=False, so the kernel is not flipped) dilates x
  by 2, pads by (2, 2) and correlates with w, so y[o] = sum_k w[k] x[(o + k - 2) / 2] over even
  o + k - 2. Hence y[2m] = w[0] x[m-1] + w[2] x[m] and y[2m+1] = w[1] x[m] + w[3] x[m+1]: phase a
  correlates x padded by one on each side, windows starting at row m + a, with rows w[a::2].
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
    if x.ndim != 4:
      raise ValueError(f"PhaseConvTranspose expects [B, H, W, C] inputs, got shape {x.shape}")
    batch, height, width, in_features = x.shape
    kernel = self.param("kernel", self.kernel_init, (4, 4, in_features, self.features),
                        self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) \
        if self.use_bias else None
    x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))

    def phase(a, b):  # output pixels (2m + a, 2n + b)
      window = padded[:, a:a + height + 1, b:b + width + 1]
      return lax.conv_general_dilated(window, kernel[a::2, b::2], (1, 1), "VALID",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                      precision=self.precision)

    # [B, H, 2 (a), W, 2 (b), out] -> [B, 2H, 2W, out] interleaves the phases.
    y = jnp.stack([jnp.stack([phase(a, 0), phase(a, 1)], axis=3) for a in (0, 1)], axis=2)
    y = y.reshape(batch, 2 * height, 2 * width, self.features)
    return y if bias is None else y + bias
