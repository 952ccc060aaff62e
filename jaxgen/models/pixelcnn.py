"""PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.5, table 1).

A 7×7 mask-A convolution to 2h features, `num_layers` residual blocks (ReLU, 1×1 2h -> h, ReLU,
k×k mask B h -> h, ReLU, 1×1 h -> 2h, added to the block's input: paper fig. 5), then ReLU, 1×1
to `out_features`, ReLU, 1×1 to C·K logits. Every convolution, the 1×1s included, is channel
masked (`causal_mask`), so logits[:, i, j, c] see x before (i, j) and x[:, i, j, :c] only. The
stack of masked convolutions has the known blind spot: pixels above and to the right that the
receptive-field rectangle covers but no path reaches (gated_pixelcnn.py removes it).

Class conditioning (num_classes > 0): a learned per-class bias on each block's k×k convolution
output, zero at init so the conditional model starts as the unconditional one.

`sample_cached` draws subpixel by subpixel, computing every layer at the current pixel only from
cached maps of the k×k convolutions' inputs: O(layers · h²) work per subpixel, not a whole image.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.models.layers import MaskedConv, class_bias, class_embed, masked_output
from jaxgen.types import ModelSpec


class ResidualBlock(nn.Module):
  """ReLU, 1×1 (2h -> h), ReLU, k×k mask B (h -> h) [+ class bias], ReLU, 1×1 (h -> 2h), plus the
  input. `head` and `tail` act on maps or on one pixel's [B, 1, 1, 2h] vectors alike; only `conv`
  needs the neighbourhood."""
  features: int  # h
  kernel_size: int
  channels: int
  num_classes: int

  def setup(self):
    k, h, c = self.kernel_size, self.features, self.channels
    self.reduce = MaskedConv(h, (1, 1), "B", c)
    self.conv = MaskedConv(h, (k, k), "B", c)
    self.expand = MaskedConv(2 * h, (1, 1), "B", c)
    self.embed = class_embed(self.num_classes, h)

  def head(self, r: jax.Array) -> jax.Array:
    """Residual stream -> the k×k convolution's input."""
    return nn.relu(self.reduce(nn.relu(r)))

  def tail(self, r: jax.Array, y: jax.Array, labels: jax.Array | None) -> jax.Array:
    """The k×k convolution's output y -> the next residual stream."""
    return r + self.expand(nn.relu(y + class_bias(self.embed, labels, self.features)[:, None, None]))

  def __call__(self, r: jax.Array, labels: jax.Array | None) -> jax.Array:
    return self.tail(r, self.conv(self.head(r)), labels)


class PixelCNN(nn.Module):
  """x [B, H, W, C] (+ labels [B]) -> logits [B, H, W, C, K]. Feature f serves data channel
  f % C; with no gates to split, `features` need not be a multiple of C (the paper's h = 128
  on RGB data gives groups of 43, 43 and 42)."""
  features: int  # h: 2h on the residual stream
  num_layers: int  # residual blocks
  kernel_size: int  # of the blocks' masked convolutions
  out_features: int
  channels: int
  num_outputs: int  # K
  num_classes: int  # 0: unconditional, labels ignored

  def setup(self):
    h, c = self.features, self.channels
    self.first = MaskedConv(2 * h, (7, 7), "A", c)
    self.blocks = [ResidualBlock(h, self.kernel_size, c, self.num_classes)
                   for _ in range(self.num_layers)]
    self.hidden = MaskedConv(self.out_features, (1, 1), "B", c)
    self.logits = MaskedConv(c * self.num_outputs, (1, 1), "B", c)

  def output(self, r: jax.Array) -> jax.Array:
    """Residual stream [..., 2h] (maps or pixel vectors) -> logits [..., C, K]."""
    return masked_output(self.hidden, self.logits, r, self.channels)

  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    r = self.first(x)
    for block in self.blocks:
      r = block(r, labels)
    return self.output(r)

  def pixel(self, x: jax.Array, maps: list[jax.Array], labels: jax.Array | None, i: jax.Array,
            j: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """The logits [B, C, K] at pixel (i, j) alone, from x and `maps` (each block's k×k
    convolution input [B, H, W, h], filled at every pixel before (i, j)); returns them with
    the maps' (i, j) entries written. Masks hide x[:, i, j, c:] and the maps' later entries."""
    r = self.first(x, (i, j))[:, None, None]
    written = []
    for block, m in zip(self.blocks, maps):
      m = jax.lax.dynamic_update_slice(m, block.head(r), (0, i, j, 0))
      r = block.tail(r, block.conv(m, (i, j))[:, None, None], labels)
      written.append(m)
    return self.output(r)[:, 0, 0], written


def sample_cached(model: PixelCNN, variables, key: jax.Array, shape: tuple[int, int, int, int],
                  labels: jax.Array | None, draw) -> jax.Array:
  """The samples of the uncached reference (the whole model per subpixel p = (i·W + j)·C + c,
  drawn by draw(fold_in(key, p), logits [B, K])) by `PixelCNN.pixel` per subpixel, in one loop.
  A pixel is recomputed for each of its channels; what it writes to the maps at its last
  channel is final, as no hidden feature sees its pixel's last channel."""
  batch, height, width, channels = shape
  maps = [jnp.zeros((batch, height, width, model.features), jnp.float32)
          for _ in range(model.num_layers)]

  def body(p, carry):
    x, maps = carry
    i, j, c = p // (width * channels), (p // channels) % width, p % channels
    logits, maps = model.apply(variables, x, maps, labels, i, j, method=PixelCNN.pixel)
    value = draw(jax.random.fold_in(key, p), logits[:, c])
    return x.at[:, i, j, c].set(value), maps

  x, _ = jax.lax.fori_loop(0, height * width * channels, body,
                           (jnp.zeros(shape, jnp.float32), maps))
  return x


def default_config(name: str = "pixelcnn") -> ml_collections.ConfigDict:
  """The keys `make` reads, with defaults (conditional: a class bias, when the
  data has labels)."""
  return ml_collections.ConfigDict(dict(
      name=name, features=32, num_layers=7, kernel_size=3, out_features=32, conditional=False))


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> PixelCNN:
  """config.model -> PixelCNN; reads features, num_layers, kernel_size, out_features and
  conditional (class bias iff conditional and spec.num_classes > 0)."""
  return PixelCNN(features=c.features, num_layers=c.num_layers, kernel_size=c.kernel_size,
                  out_features=c.out_features, channels=spec.image_shape[-1],
                  num_outputs=spec.outputs_per_channel,
                  num_classes=spec.num_classes if c.conditional else 0)
