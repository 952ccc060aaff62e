"""PixelRNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", sections 3.1-3.4):
the Row LSTM and the Diagonal BiLSTM.

Both: a 7×7 mask-A convolution to 2h features, `num_layers` recurrent layers with residual
connections (2h -> LSTM with h units -> 1×1 mask B to 2h, added to the layer's input: paper
section 3.3), then ReLU, 1×1 to `out_features`, ReLU, 1×1 to C·K logits (table 1).

Row LSTM (section 3.1): row by row, one `nn.scan` step per row. Input-to-state: a 1×3 mask-B
convolution of the current row, for the whole map at once; state-to-state: an unmasked width-3
convolution of the previous row's hidden state. The receptive field is a triangle: with L
layers, pixel (i, j) sees row i - e (e >= 1) at columns j - e - L - 3 .. j + e + 2 and row i at
columns j - L - 3 .. j - 1 only; the rest of the past is a blind spot.

Diagonal BiLSTM (section 3.2): the map is skewed (row r shifted right by r, width W -> W + H - 1)
so that a diagonal becomes a column, and scanned column by column. Input-to-state: a 1×1
convolution; state-to-state: a 2×1 column convolution of the previous column's state (rows r - 1
and r, i.e. the pixels above and to the left). The right-to-left direction runs on the
horizontally flipped map, and its output is shifted down one row before the two are added, so
it reads rows above only. The two directions run in one scan, stacked on a leading axis.

Deviation from the paper, which claims a complete dependency field: with only the layer input
to read, the last channel of a row's last pixel x[i, W - 1, C - 1] is in no hidden feature of
row i (mask A hides it at its own pixel, and row i has no later pixel), so the next row sees it
only within the 7×7 window (columns >= W - 4). The right-to-left input-to-state here also reads
the data x (unmasked: its output is shifted down a row), which closes that gap: every earlier
subpixel is seen.

RGB (section 3.4): hidden feature f serves data channel f % C (`channel_groups`). The gates are
four blocks of h features, [o | f | i | g] (paper eq. 3); with h a multiple of C, gate, cell and
hidden feature f' of every block share group f' % C, so the mask-B input-to-state convolutions
keep the channel order through the LSTM. State-to-state paths read strictly earlier pixels
(previous row or column), so they need no channel mask; nor does the right-to-left direction's
input-to-state, whose output reaches the rows below only.

Class conditioning (num_classes > 0): a learned per-class bias on the gate pre-activations of
every layer (both directions), zero at init so the conditional model starts as the
unconditional one.

No cached sampler: the method's uncached one applies. A per-pixel cache would work for both (a
layer's state at a pixel needs the previous row's or column's states and the current row's
inputs to its left, all known in raster order), with `MaskedConv`'s `pos` for the convolutions.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.models.layers import MaskedConv, split_channels


def lstm_update(gates: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Gate pre-activations [..., 4h], blocks [o | f | i | g], and the cell state [..., h] ->
  (new cell state, hidden state) (paper eq. 3)."""
  o, f, i, g = jnp.split(gates, 4, axis=-1)
  c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
  return c, nn.sigmoid(o) * jnp.tanh(c)


def class_bias(module: nn.Module, labels: jax.Array | None, features: int) -> jax.Array:
  """A learned per-class bias [B, features] made in `module`'s compact scope, or zeros
  [1, features] when it is unconditional."""
  if not module.num_classes:
    return jnp.zeros((1, features))
  if labels is None:
    raise ValueError("a conditional model needs labels")
  return nn.Embed(module.num_classes, features, embedding_init=nn.initializers.zeros_init(),
                  name="class_bias")(labels)


def skew(x: jax.Array) -> jax.Array:
  """[..., H, W, F] -> [..., H, W + H - 1, F], row r shifted right by r, zeros elsewhere: each
  row padded by H zeros and the rows read back with a stride of W + H - 1, no gather."""
  *lead, height, width, features = x.shape
  x = jnp.pad(x, [(0, 0)] * len(lead) + [(0, 0), (0, height), (0, 0)])
  x = x.reshape(*lead, height * (width + height), features)[..., :height * (width + height - 1), :]
  return x.reshape(*lead, height, width + height - 1, features)


def unskew(x: jax.Array, width: int) -> jax.Array:
  """Inverts `skew`: [..., H, W + H - 1, F] -> [..., H, W, F]."""
  *lead, height, skewed, features = x.shape
  x = x.reshape(*lead, height * skewed, features)
  x = jnp.pad(x, [(0, 0)] * len(lead) + [(0, height), (0, 0)])
  return x.reshape(*lead, height, skewed + 1, features)[..., :width, :]


class _RowStep(nn.Module):
  """One Row LSTM row: (c, h) of the previous row [B, W, h] and this row's input-to-state gates
  [B, W, 4h] -> the row's (c, h), and h as output. The width-3 state-to-state convolution is
  one [3h, 4h] matrix over [h(w - 1), h(w), h(w + 1)] (zero beyond the edges): in a scan on
  XLA:CPU, 3x faster forward and backward than `nn.Conv`."""
  features: int

  @nn.compact
  def __call__(self, carry, gates):
    c, h = carry
    padded = jnp.pad(h, ((0, 0), (1, 1), (0, 0)))
    neighbours = jnp.concatenate([padded[:, :-2], h, padded[:, 2:]], -1)
    gates = gates + nn.Dense(4 * self.features, use_bias=False)(neighbours)
    c, h = lstm_update(gates, c)
    return (c, h), h


class RowLSTM(nn.Module):
  """Layer input u [B, H, W, 2h] -> hidden states [B, H, W, h]. The data x is not read: u
  already carries every subpixel of the triangle."""
  features: int  # h
  channels: int
  num_classes: int

  @nn.compact
  def __call__(self, u: jax.Array, x: jax.Array, labels: jax.Array | None) -> jax.Array:
    del x
    batch, _, width, _ = u.shape
    gates = MaskedConv(4 * self.features, (1, 3), "B", self.channels, name="input_to_state")(u)
    gates = gates + class_bias(self, labels, 4 * self.features)[:, None, None]
    scan = nn.scan(_RowStep, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=1, out_axes=1)
    zeros = jnp.zeros((batch, width, self.features))
    _, hidden = scan(self.features, name="state_to_state")((zeros, zeros), gates)
    return hidden


class _DiagonalStep(nn.Module):
  """One skewed column of both directions: (c, h) of the previous column [2, B, H, h] and this
  column's input-to-state gates [2, B, H, 4h] -> the column's (c, h), and h as output. The 2×1
  state-to-state kernel of each direction is one [2h, 4h] matrix over [h(r - 1), h(r)]."""
  features: int

  @nn.compact
  def __call__(self, carry, gates):
    c, h = carry
    kernel = self.param("kernel", nn.initializers.lecun_normal(batch_axis=(0,)),
                        (2, 2 * self.features, 4 * self.features))
    above = jnp.pad(h[:, :, :-1], ((0, 0), (0, 0), (1, 0), (0, 0)))  # zero above the top row
    gates = gates + jnp.einsum("dbrk,dkg->dbrg", jnp.concatenate([above, h], -1), kernel)
    c, h = lstm_update(gates, c)
    return (c, h), h


class DiagonalBiLSTM(nn.Module):
  """Layer input u [B, H, W, 2h] and data x [B, H, W, C] -> hidden states [B, H, W, h]: the
  left-to-right direction (reading u) plus the right-to-left one (reading u and x) shifted down
  a row."""
  features: int  # h
  channels: int
  num_classes: int

  @nn.compact
  def __call__(self, u: jax.Array, x: jax.Array, labels: jax.Array | None) -> jax.Array:
    batch, height, width, _ = u.shape
    h = self.features
    forward = MaskedConv(4 * h, (1, 1), "B", self.channels, name="input_to_state")(u)
    backward = nn.Dense(4 * h, name="input_to_state_backward")(
        jnp.concatenate([u, x], -1)[:, :, ::-1])
    bias = jnp.reshape(class_bias(self, labels, 2 * 4 * h), (-1, 2, 1, 1, 4 * h))
    # The bias goes in before skewing: the skew's padding then holds zero gates, and the states
    # left of each row stay zero, a zero boundary as the image edges have.
    gates = jnp.stack([forward, backward]) + jnp.moveaxis(bias, 1, 0)
    scan = nn.scan(_DiagonalStep, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=3, out_axes=3)
    zeros = jnp.zeros((2, batch, height, h))
    _, hidden = scan(h, name="state_to_state")((zeros, zeros), skew(gates))
    hidden = unskew(hidden, width)
    backward = jnp.pad(hidden[1, :, :-1, ::-1], ((0, 0), (1, 0), (0, 0), (0, 0)))
    return hidden[0] + backward


LAYERS = {"row_lstm": RowLSTM, "diagonal_bilstm": DiagonalBiLSTM}


class PixelRNN(nn.Module):
  """x [B, H, W, C] (+ labels [B]) -> logits [B, H, W, C, K]. Feature f serves data channel
  f % C, so `features` must be a multiple of C."""
  layer: str  # a key of LAYERS
  features: int  # h: 2h between layers
  num_layers: int
  out_features: int
  channels: int
  num_outputs: int  # K
  num_classes: int  # 0: unconditional, labels ignored

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    if self.features % self.channels:
      raise ValueError(f"PixelRNN: features ({self.features}) must be a multiple of the data "
                       f"channels ({self.channels})")
    h, c = self.features, self.channels
    r = MaskedConv(2 * h, (7, 7), "A", c, name="first")(x)
    for n in range(self.num_layers):
      hidden = LAYERS[self.layer](h, c, self.num_classes, name=f"layer_{n}")(r, x, labels)
      r = r + MaskedConv(2 * h, (1, 1), "B", c, name=f"residual_{n}")(hidden)
    out = MaskedConv(self.out_features, (1, 1), "B", c, name="hidden")(nn.relu(r))
    out = MaskedConv(c * self.num_outputs, (1, 1), "B", c, name="logits")(nn.relu(out))
    return split_channels(out, c)


def make(c: ml_collections.ConfigDict, *, channels: int, num_outputs: int,
         num_classes: int) -> PixelRNN:
  """config.model -> PixelRNN; reads name (a key of LAYERS), features, num_layers, out_features
  and conditional (class bias iff conditional and num_classes > 0)."""
  if c.name not in LAYERS:
    raise ValueError(f"pixelrnn: unknown model {c.name!r}; expected one of {sorted(LAYERS)}")
  return PixelRNN(layer=c.name, features=c.features, num_layers=c.num_layers,
                  out_features=c.out_features, channels=channels, num_outputs=num_outputs,
                  num_classes=num_classes if c.conditional else 0)
