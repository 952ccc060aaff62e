"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

Two stacks per layer (the paper's fig. 2), with no blind spot:
  vertical: a (k//2 + 1)×k convolution over the rows at or above (output row i reads input rows
    i - k//2 .. i), then tanh(a)·σ(b) of its 2F outputs. It sees whole rows, so it reaches the
    horizontal stack only through a 1×1 map of its pre-activations shifted down a row (row i
    gets row i - 1's): pixels strictly above.
  horizontal: a 1×(k//2 + 1) convolution over the current row up to the pixel (a `MaskedConv`
    of kernel (1, k): the taps right of the centre are masked out; mask A at the centre in the
    first layer, B later), plus the vertical contribution, gated; a 1×1 convolution of the gate
    added to the layer's input (the residual, except in the first layer, whose input is x) and,
    with skip connections, another 1×1 into a sum over layers.
The first layer has k = 7, the others `kernel_size`. Output: ReLU, 1×1 to `out_features`,
ReLU, 1×1 to C·K logits, from the skip sum (or the last horizontal output without skips). Every
convolution of the horizontal stack and the output is channel masked: logits[:, i, j, c] see x
before (i, j) and x[:, i, j, :c] only. Gates split 2F features into halves of F; with F a
multiple of C, feature f and F + f serve the same data channel (`channel_groups`).

Class conditioning (num_classes > 0): the paper's V·h, a learned per-class bias of each gate's
2F pre-activations, in both stacks of every layer, zero at init.

`sample_cached` computes the vertical stack once per row, after the row is drawn, and then the
horizontal stack at one pixel per subpixel, from cached maps of each layer's inputs.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.models.layers import MaskedConv, class_bias, class_embed, masked_output
from jaxgen.types import ModelSpec

FIRST_KERNEL_SIZE = 7


def _gate(pre: jax.Array) -> jax.Array:
  a, b = jnp.split(pre, 2, axis=-1)
  return jnp.tanh(a) * nn.sigmoid(b)


class GatedLayer(nn.Module):
  """One layer of both stacks. Its methods act on whole maps, or on one row (vertical) or one
  pixel (horizontal) for cached sampling."""
  features: int  # F
  kernel_size: int
  channels: int
  num_classes: int
  first: bool  # mask A at the centre, no residual
  skip_connections: bool

  def setup(self):
    k, f, c = self.kernel_size, self.features, self.channels
    self.v_conv = nn.Conv(2 * f, (k // 2 + 1, k), padding="VALID")
    self.link = nn.Dense(2 * f)  # vertical -> horizontal, 1×1 on the pre-activations
    self.h_conv = MaskedConv(2 * f, (1, k), "A" if self.first else "B", c)
    self.h_out = MaskedConv(f, (1, 1), "B", c)
    self.skip = MaskedConv(f, (1, 1), "B", c) if self.skip_connections else None
    self.v_embed = class_embed(self.num_classes, 2 * f)
    self.h_embed = class_embed(self.num_classes, 2 * f)

  def _bias(self, embed: nn.Embed | None, labels: jax.Array | None) -> jax.Array:
    """The class bias of a gate's 2F pre-activations, [B or 1, 1, 1, 2F]."""
    return class_bias(embed, labels, 2 * self.features)[:, None, None]

  def vertical(self, v: jax.Array, row: jax.Array | None = None) -> jax.Array:
    """Vertical input [B, H, W, in] -> pre-activations [B, H, W, 2F], output row i from input
    rows <= i; with `row`: that row's only, [B, 1, W, 2F] (rows below it are not read)."""
    pad = self.kernel_size // 2
    v = jnp.pad(v, ((0, 0), (pad, 0), (pad, pad), (0, 0)))
    if row is not None:
      v = jax.lax.dynamic_slice_in_dim(v, row, pad + 1, axis=1)
    return self.v_conv(v)

  def vertical_out(self, pre: jax.Array, labels: jax.Array | None) -> jax.Array:
    """Pre-activations -> the next layer's vertical input [..., F]."""
    return _gate(pre + self._bias(self.v_embed, labels))

  def horizontal(self, h: jax.Array, link: jax.Array, labels: jax.Array | None,
                 pos: tuple[jax.Array, jax.Array] | None = None
                 ) -> tuple[jax.Array, jax.Array | None]:
    """Horizontal input map h and the vertical contribution `link` at the same positions ->
    (next horizontal input, skip output or None). With pos = (i, j): at that pixel only, each
    [B, 1, 1, F], reading h before (i, j) and at it (mask), and `link` [B, 1, 1, 2F]."""
    if pos is None:
      pre = self.h_conv(h)
    else:
      pre = self.h_conv(h, pos)[:, None, None]
      h = jax.lax.dynamic_slice(h, (0, *pos, 0), (h.shape[0], 1, 1, h.shape[-1]))
    g = _gate(pre + link + self._bias(self.h_embed, labels))
    out = self.h_out(g)
    return (out if self.first else h + out), (self.skip(g) if self.skip_connections else None)


class GatedPixelCNN(nn.Module):
  """x [B, H, W, C] (+ labels [B]) -> logits [B, H, W, C, K]. Feature f serves data channel
  f % C, so `features` must be a multiple of C."""
  features: int  # F
  num_layers: int  # gated layers, the 7×7 first one included
  kernel_size: int  # of the later layers; odd
  out_features: int
  channels: int
  num_outputs: int  # K
  num_classes: int  # 0: unconditional, labels ignored
  skip_connections: bool = True

  def setup(self):
    if self.features % self.channels:
      raise ValueError(f"GatedPixelCNN: features ({self.features}) must be a multiple of the "
                       f"data channels ({self.channels})")
    if self.num_layers < 1 or self.kernel_size % 2 == 0:
      raise ValueError(f"GatedPixelCNN: needs num_layers >= 1 and an odd kernel_size, got "
                       f"{self.num_layers} and {self.kernel_size}")
    self.layers = [
        GatedLayer(self.features, self.kernel_size if l else FIRST_KERNEL_SIZE, self.channels,
                   self.num_classes, first=l == 0, skip_connections=self.skip_connections)
        for l in range(self.num_layers)]
    self.hidden = MaskedConv(self.out_features, (1, 1), "B", self.channels)
    self.logits = MaskedConv(self.channels * self.num_outputs, (1, 1), "B", self.channels)

  def output(self, h: jax.Array, skips: list[jax.Array | None]) -> jax.Array:
    """The last horizontal output and the layers' skips (maps or pixel vectors) -> logits
    [..., C, K]."""
    out = sum(skips) if self.skip_connections else h
    return masked_output(self.hidden, self.logits, out, self.channels)

  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    v = h = x
    skips = []
    for l, layer in enumerate(self.layers):
      pre = layer.vertical(v)
      link = jnp.pad(layer.link(pre), ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]  # down a row
      if l + 1 < self.num_layers:  # the last layer's vertical output has no reader
        v = layer.vertical_out(pre, labels)
      h, skip = layer.horizontal(h, link, labels)
      skips.append(skip)
    return self.output(h, skips)

  def row(self, x: jax.Array, maps: list[jax.Array], labels: jax.Array | None,
          i: jax.Array) -> tuple[list[jax.Array], list[jax.Array]]:
    """The vertical stack at row i, once x's rows <= i are final: `maps` (the vertical inputs
    [B, H, W, F] of layers 1.., filled above row i) with row i written, and each layer's
    contribution to row i + 1's horizontal stack [B, 1, W, 2F]."""
    inputs, links = [x], []
    for layer, m in zip(self.layers, [*maps, None]):
      pre = layer.vertical(inputs[-1], i)
      links.append(layer.link(pre))
      if m is not None:
        inputs.append(jax.lax.dynamic_update_slice(m, layer.vertical_out(pre, labels),
                                                   (0, i, 0, 0)))
    return inputs[1:], links

  def pixel(self, x: jax.Array, maps: list[jax.Array], links: list[jax.Array],
            labels: jax.Array | None, i: jax.Array, j: jax.Array
            ) -> tuple[jax.Array, list[jax.Array]]:
    """The logits [B, C, K] at pixel (i, j) alone, from x, `maps` (the horizontal inputs
    [B, H, W, F] of layers 1.., filled before (i, j)) and `links` (row i's vertical
    contributions, from `row` at i - 1; zeros for row 0); returns them with the maps' (i, j)
    entries written. Masks hide x[:, i, j, c:] and the maps' later entries."""
    inputs, skips = [x], []
    for layer, link, m in zip(self.layers, links, [*maps, None]):
      h, skip = layer.horizontal(inputs[-1], jax.lax.dynamic_slice_in_dim(link, j, 1, axis=2),
                                 labels, (i, j))
      skips.append(skip)
      if m is not None:
        inputs.append(jax.lax.dynamic_update_slice(m, h, (0, i, j, 0)))
    return self.output(h, skips)[:, 0, 0], inputs[1:]


def sample_cached(model: GatedPixelCNN, variables, key: jax.Array,
                  shape: tuple[int, int, int, int], labels: jax.Array | None, draw) -> jax.Array:
  """The samples of the uncached reference (the whole model per subpixel p = (i·W + j)·C + c,
  drawn by draw(fold_in(key, p), logits [B, K])), in one loop over rows holding a loop over
  subpixels: `GatedPixelCNN.pixel` per subpixel, then `GatedPixelCNN.row` once the row is
  drawn. A pixel is recomputed for each of its channels; what it writes to the maps at its
  last channel is final, as no hidden feature sees its pixel's last channel."""
  batch, height, width, channels = shape
  f = model.features
  maps = [jnp.zeros((batch, height, width, f), jnp.float32) for _ in range(model.num_layers - 1)]
  links = [jnp.zeros((batch, 1, width, 2 * f), jnp.float32) for _ in range(model.num_layers)]

  def row(i, carry):
    x, v_maps, h_maps, links = carry

    def subpixel(q, carry):
      x, h_maps = carry
      j, c = q // channels, q % channels
      logits, h_maps = model.apply(variables, x, h_maps, links, labels, i, j,
                                   method=GatedPixelCNN.pixel)
      value = draw(jax.random.fold_in(key, i * width * channels + q), logits[:, c])
      return x.at[:, i, j, c].set(value), h_maps

    x, h_maps = jax.lax.fori_loop(0, width * channels, subpixel, (x, h_maps))
    v_maps, links = model.apply(variables, x, v_maps, labels, i, method=GatedPixelCNN.row)
    return x, v_maps, h_maps, links

  x, *_ = jax.lax.fori_loop(0, height, row, (jnp.zeros(shape, jnp.float32), maps, maps, links))
  return x


def default_config(name: str = "gated_pixelcnn") -> ml_collections.ConfigDict:
  """The keys `make` reads, with defaults (conditional: a class bias, when the
  data has labels)."""
  return ml_collections.ConfigDict(dict(
      name=name, features=32, num_layers=7, kernel_size=3, out_features=32, conditional=False))


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> GatedPixelCNN:
  """config.model -> GatedPixelCNN with skip connections; reads features, num_layers,
  kernel_size, out_features and conditional (class bias iff conditional and spec.num_classes > 0)."""
  return GatedPixelCNN(features=c.features, num_layers=c.num_layers, kernel_size=c.kernel_size,
                       out_features=c.out_features, channels=spec.image_shape[-1],
                  num_outputs=spec.outputs_per_channel,
                       num_classes=spec.num_classes if c.conditional else 0)
