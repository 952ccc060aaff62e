"""Blocks shared by the model families."""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen.dtypes import promote_dtype


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
    if x.ndim != 4:
      raise ValueError(f"PhaseConvTranspose expects [B, H, W, C] inputs, got shape {x.shape}")
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
