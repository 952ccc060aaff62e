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

`sample_cached` draws subpixel by subpixel, computing every layer at the current pixel only,
from caches: each layer's input on the current row and its states on the rows above and to the
left (the Row LSTM's 1×3 and width-3 convolutions, the Diagonal BiLSTM's left-to-right
direction). The right-to-left direction runs once per row, when the row is drawn (the row below
reads it). O(layers · h²) work per subpixel, not a whole image.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.models.layers import MaskedConv, class_bias, class_embed, masked_output
from jaxgen.types import ModelSpec


def lstm_update(gates: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Gate pre-activations [..., 4h], blocks [o | f | i | g], and the cell state [..., h] ->
  (new cell state, hidden state) (paper eq. 3)."""
  o, f, i, g = jnp.split(gates, 4, axis=-1)
  c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
  return c, nn.sigmoid(o) * jnp.tanh(c)


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


# A layer's per-pixel sampling state: four [B, W, h] arrays, zeros before the first row; what
# they hold is the layer's (`RowLSTM.pixel`, `DiagonalBiLSTM.pixel`).
State = tuple[jax.Array, jax.Array, jax.Array, jax.Array]


class _RowStep(nn.Module):
  """One Row LSTM row: (c, h) of the previous row [B, W, h] and this row's input-to-state gates
  [B, W, 4h] -> the row's (c, h), and h as output. The width-3 state-to-state convolution is
  one [3h, 4h] matrix over [h(w - 1), h(w), h(w + 1)] (zero beyond the edges): in a scan on
  XLA:CPU, 3x faster forward and backward than `nn.Conv`."""
  features: int

  def setup(self):
    # The name it had as a compact module's, which checkpoints hold.
    self.dense = nn.Dense(4 * self.features, use_bias=False, name="Dense_0")

  def cell(self, c: jax.Array, neighbours: jax.Array,
           gates: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(c, h) at pixels of a row from c of the row above there, h of the row above at
    [w - 1, w, w + 1] concatenated [..., 3h], and the input-to-state gates [..., 4h]."""
    return lstm_update(gates + self.dense(neighbours), c)

  def __call__(self, carry, gates):
    c, h = carry
    padded = jnp.pad(h, ((0, 0), (1, 1), (0, 0)))
    neighbours = jnp.concatenate([padded[:, :-2], h, padded[:, 2:]], -1)
    c, h = self.cell(c, neighbours, gates)
    return (c, h), h


class RowLSTM(nn.Module):
  """Layer input u [B, H, W, 2h] -> hidden states [B, H, W, h]. The data x is not read: u
  already carries every subpixel of the triangle."""
  features: int  # h
  channels: int
  num_classes: int

  def setup(self):
    h = self.features
    self.input_to_state = MaskedConv(4 * h, (1, 3), "B", self.channels)
    self.class_bias = class_embed(self.num_classes, 4 * h)
    self.state_to_state = nn.scan(_RowStep, variable_broadcast="params",
                                  split_rngs={"params": False}, in_axes=1, out_axes=1)(h)

  def __call__(self, u: jax.Array, x: jax.Array, labels: jax.Array | None) -> jax.Array:
    del x
    batch, _, width, _ = u.shape
    gates = self.input_to_state(u)
    gates = gates + class_bias(self.class_bias, labels, 4 * self.features)[:, None, None]
    zeros = jnp.zeros((batch, width, self.features))
    _, hidden = self.state_to_state((zeros, zeros), gates)
    return hidden

  def pixel(self, u_row: jax.Array, state: State, labels: jax.Array | None,
            j: jax.Array) -> tuple[jax.Array, State]:
    """The hidden state [B, h] at pixel (i, j) alone, from u_row [B, 1, W, 2h], the layer input
    on row i (filled at columns <= j; the mask hides later ones), and `state`, (c, h) of rows
    i - 1 and i; returns it and `state` written at (i, j)."""
    c_above, h_above, c_row, h_row = state
    gates = self.input_to_state(u_row, (0, j))
    gates = gates + class_bias(self.class_bias, labels, 4 * self.features)
    padded = jnp.pad(h_above, ((0, 0), (1, 1), (0, 0)))
    neighbours = jax.lax.dynamic_slice_in_dim(padded, j, 3, axis=1).reshape(h_row.shape[0], -1)
    c, h = self.state_to_state.cell(c_above[:, j], neighbours, gates)
    return h, (c_above, h_above, c_row.at[:, j].set(c), h_row.at[:, j].set(h))

  def next_row(self, u_row: jax.Array, x_row: jax.Array, state: State,
               labels: jax.Array | None) -> State:
    """Row i's finished `state` -> row i + 1's: row i's (c, h) go above."""
    del u_row, x_row, labels
    _, _, c, h = state
    return c, h, c, h


class _DiagonalStep(nn.Module):
  """One skewed column of both directions: (c, h) of the previous column [2, B, H, h] and this
  column's input-to-state gates [2, B, H, 4h] -> the column's (c, h), and h as output. The 2×1
  state-to-state kernel of each direction is one [2h, 4h] matrix over [h(r - 1), h(r)]."""
  features: int

  def setup(self):
    self.kernel = self.param("kernel", nn.initializers.lecun_normal(batch_axis=(0,)),
                             (2, 2 * self.features, 4 * self.features))

  def __call__(self, carry, gates):
    c, h = carry
    above = jnp.pad(h[:, :, :-1], ((0, 0), (0, 0), (1, 0), (0, 0)))  # zero above the top row
    gates = gates + jnp.einsum("dbrk,dkg->dbrg", jnp.concatenate([above, h], -1), self.kernel)
    c, h = lstm_update(gates, c)
    return (c, h), h


class DiagonalBiLSTM(nn.Module):
  """Layer input u [B, H, W, 2h] and data x [B, H, W, C] -> hidden states [B, H, W, h]: the
  left-to-right direction (reading u) plus the right-to-left one (reading u and x) shifted down
  a row.

  Per pixel, in raster order: a state at (i, j) reads the states at (i - 1, j) and (i, j - 1)
  (left to right) or (i, j + 1) (right to left), so `pixel` computes the left-to-right one, and
  `next_row` the right-to-left one of a whole finished row, which the row below reads."""
  features: int  # h
  channels: int
  num_classes: int

  def setup(self):
    h = self.features
    self.input_to_state = MaskedConv(4 * h, (1, 1), "B", self.channels)
    self.input_to_state_backward = nn.Dense(4 * h)
    self.class_bias = class_embed(self.num_classes, 2 * 4 * h)
    self.state_to_state = nn.scan(_DiagonalStep, variable_broadcast="params",
                                  split_rngs={"params": False}, in_axes=3, out_axes=3)(h)

  def bias(self, labels: jax.Array | None) -> jax.Array:
    """The per-class biases of both directions' gates [B or 1, 2, 4h]."""
    gates = 4 * self.features
    return class_bias(self.class_bias, labels, 2 * gates).reshape(-1, 2, gates)

  def __call__(self, u: jax.Array, x: jax.Array, labels: jax.Array | None) -> jax.Array:
    batch, height, width, _ = u.shape
    forward = self.input_to_state(u)
    backward = self.input_to_state_backward(jnp.concatenate([u, x], -1)[:, :, ::-1])
    # The bias goes in before skewing: the skew's padding then holds zero gates, and the states
    # left of each row stay zero, a zero boundary as the image edges have.
    bias = jnp.moveaxis(self.bias(labels), 1, 0)[:, :, None, None]
    gates = jnp.stack([forward, backward]) + bias
    zeros = jnp.zeros((2, batch, height, self.features))
    _, hidden = self.state_to_state((zeros, zeros), skew(gates))
    hidden = unskew(hidden, width)
    backward = jnp.pad(hidden[1, :, :-1, ::-1], ((0, 0), (1, 0), (0, 0), (0, 0)))
    return hidden[0] + backward

  def pixel(self, u_row: jax.Array, state: State, labels: jax.Array | None,
            j: jax.Array) -> tuple[jax.Array, State]:
    """The hidden state [B, h] at pixel (i, j) alone, from u_row [B, 1, W, 2h], the layer input
    on row i (filled at columns <= j), and `state`: the left-to-right h of row i - 1, (c, h) of
    row i (filled at columns < j) and the right-to-left h of row i - 1; returns it and `state`
    written at (i, j)."""
    h_above, c_row, h_row, back = state
    gates = self.input_to_state(u_row, (0, j)) + self.bias(labels)[:, 0]
    left = lambda a: jnp.pad(a, ((0, 0), (1, 0), (0, 0)))[:, j]  # column j - 1, zero before 0
    neighbours = jnp.concatenate([h_above[:, j], left(h_row)], -1)
    c, h = lstm_update(gates + neighbours @ self.state_to_state.kernel[0], left(c_row))
    return h + back[:, j], (h_above, c_row.at[:, j].set(c), h_row.at[:, j].set(h), back)

  def next_row(self, u_row: jax.Array, x_row: jax.Array, state: State,
               labels: jax.Array | None) -> State:
    """Row i's finished `state`, input u_row [B, 1, W, 2h] and data x_row [B, W, C] -> row
    i + 1's: the right-to-left h of row i (a scan from its right end) and the left-to-right h
    go above."""
    _, c_row, h_row, back = state
    gates = self.input_to_state_backward(jnp.concatenate([u_row[:, 0], x_row], -1))
    gates = gates + self.bias(labels)[:, 1, None]
    kernel = self.state_to_state.kernel[1]

    def step(carry, inputs):  # (c, h) of column j + 1 (zeros right of the image) -> column j
      c, h = carry
      gates, above = inputs
      c, h = lstm_update(gates + jnp.concatenate([above, h], -1) @ kernel, c)
      return (c, h), h

    zeros = jnp.zeros_like(back[:, 0])
    _, back = jax.lax.scan(step, (zeros, zeros), (jnp.swapaxes(gates, 0, 1),
                                                  jnp.swapaxes(back, 0, 1)), reverse=True)
    return h_row, c_row, h_row, jnp.swapaxes(back, 0, 1)


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

  def setup(self):
    if self.features % self.channels:
      raise ValueError(f"PixelRNN: features ({self.features}) must be a multiple of the data "
                       f"channels ({self.channels})")
    h, c = self.features, self.channels
    self.first = MaskedConv(2 * h, (7, 7), "A", c)
    self.layers = [LAYERS[self.layer](h, c, self.num_classes, name=f"layer_{n}")
                   for n in range(self.num_layers)]
    self.residuals = [MaskedConv(2 * h, (1, 1), "B", c, name=f"residual_{n}")
                      for n in range(self.num_layers)]
    self.hidden = MaskedConv(self.out_features, (1, 1), "B", c)
    self.logits = MaskedConv(c * self.num_outputs, (1, 1), "B", c)

  def output(self, r: jax.Array) -> jax.Array:
    """Residual stream [..., 2h] (maps or pixel vectors) -> logits [..., C, K]."""
    return masked_output(self.hidden, self.logits, r, self.channels)

  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    r = self.first(x)
    for layer, residual in zip(self.layers, self.residuals):
      r = r + residual(layer(r, x, labels))
    return self.output(r)

  def pixel(self, x: jax.Array, rows: list[jax.Array], states: list[State],
            labels: jax.Array | None, i: jax.Array, j: jax.Array):
    """The logits [B, C, K] at pixel (i, j) alone, from x, `rows` (each layer's input on row i
    [B, 1, W, 2h], filled at columns < j) and `states` (each layer's, see its `pixel`); returns
    them with `rows` and `states` written at (i, j). Masks hide x[:, i, j, c:] from
    logits[:, c]."""
    r = self.first(x, (i, j))[:, None, None]
    written_rows, written_states = [], []
    for layer, residual, u, state in zip(self.layers, self.residuals, rows, states):
      u = jax.lax.dynamic_update_slice(u, r, (0, 0, j, 0))
      hidden, state = layer.pixel(u, state, labels, j)
      r = r + residual(hidden[:, None, None])
      written_rows.append(u)
      written_states.append(state)
    return self.output(r)[:, 0, 0], written_rows, written_states

  def next_row(self, x: jax.Array, rows: list[jax.Array], states: list[State],
               labels: jax.Array | None, i: jax.Array) -> list[State]:
    """Once row i of x is drawn: each layer's state for row i + 1."""
    return [layer.next_row(u, x[:, i], state, labels)
            for layer, u, state in zip(self.layers, rows, states)]


def sample_cached(model: PixelRNN, variables, key: jax.Array, shape: tuple[int, int, int, int],
                  labels: jax.Array | None, draw) -> jax.Array:
  """The samples of the uncached reference (the whole model per subpixel p = (i·W + j)·C + c,
  drawn by draw(fold_in(key, p), logits [B, K])) by `PixelRNN.pixel` per subpixel and
  `PixelRNN.next_row` per row, in one loop over rows of a loop over their W·C subpixels. A pixel
  is recomputed for each of its channels; what it writes at its last channel is final, as no
  hidden feature sees its pixel's last channel (the right-to-left direction, which reads the
  data, runs once the row is drawn)."""
  batch, height, width, channels = shape
  rows = [jnp.zeros((batch, 1, width, 2 * model.features))] * model.num_layers
  states = [(jnp.zeros((batch, width, model.features)),) * 4] * model.num_layers

  def row(i, carry):
    def subpixel(q, carry):
      x, rows, states = carry
      j, c = q // channels, q % channels
      logits, rows, states = model.apply(variables, x, rows, states, labels, i, j,
                                         method=PixelRNN.pixel)
      value = draw(jax.random.fold_in(key, i * width * channels + q), logits[:, c])
      return x.at[:, i, j, c].set(value), rows, states

    x, rows, states = jax.lax.fori_loop(0, width * channels, subpixel, carry)
    return x, rows, model.apply(variables, x, rows, states, labels, i, method=PixelRNN.next_row)

  x, _, _ = jax.lax.fori_loop(0, height, row, (jnp.zeros(shape, jnp.float32), rows, states))
  return x


def default_config(name: str = "row_lstm") -> ml_collections.ConfigDict:
  """The keys `make` reads, with defaults (conditional: a class bias, when the
  data has labels)."""
  return ml_collections.ConfigDict(dict(
      name=name, features=32, num_layers=7, out_features=32, conditional=False))


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> PixelRNN:
  """config.model -> PixelRNN; reads name (a key of LAYERS), features, num_layers, out_features
  and conditional (class bias iff conditional and spec.num_classes > 0)."""
  if c.name not in LAYERS:
    raise ValueError(f"pixelrnn: unknown model {c.name!r}; expected one of {sorted(LAYERS)}")
  return PixelRNN(layer=c.name, features=c.features, num_layers=c.num_layers,
                  out_features=c.out_features, channels=spec.image_shape[-1],
                  num_outputs=spec.outputs_per_channel,
                  num_classes=spec.num_classes if c.conditional else 0)
