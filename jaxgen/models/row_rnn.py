"""The row-by-row LSTM: the simplest RNN image model, a baseline for the pixel models.

`num_layers` stacked LSTMs of `features` units read the image one row per time step: step t
gets row t - 1 flattened (W·C values; zeros at t = 0) and a dense layer of the top state gives
all W·C·K logits of row t. So logits of row t see the rows above only, and the pixels of a row
are independent given them (the price of predicting a row at once).

Class conditioning (num_classes > 0): a learned per-class bias on every layer's gate
pre-activations, zero at init so the conditional model starts as the unconditional one.

`sample_cached` runs the recurrence once over the rows, drawing a whole row per step: H steps
instead of the uncached reference's H·W·C runs of the whole model, with the same samples.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.models.layers import class_bias, class_embed
from jaxgen.models.pixelrnn import lstm_update
from jaxgen.types import ModelSpec

State = tuple[tuple[jax.Array, jax.Array], ...]  # (c, h) [B, features] per layer


class _Readout(nn.Module):
  """Top hidden state [B, F] -> `size` logits, the dense layer sized by the row at first call
  (the module knows neither W nor C)."""

  @nn.compact
  def __call__(self, h: jax.Array, size: int) -> jax.Array:
    return nn.Dense(size)(h)


class RowRNN(nn.Module):
  """x [B, H, W, C] (+ labels [B]) -> logits [B, H, W, C, K], row i seeing rows < i only."""
  features: int  # LSTM units per layer
  num_layers: int
  num_outputs: int  # K
  num_classes: int  # 0: unconditional, labels ignored

  def setup(self):
    gates = 4 * self.features
    self.input_to_state = [nn.Dense(gates) for _ in range(self.num_layers)]
    self.state_to_state = [nn.Dense(gates, use_bias=False) for _ in range(self.num_layers)]
    self.class_bias = [class_embed(self.num_classes, gates) for _ in range(self.num_layers)]
    self.readout = _Readout()

  def step(self, state: State, prev_row: jax.Array,
           labels: jax.Array | None) -> tuple[State, jax.Array]:
    """One time step: the state after the rows before `prev_row`, and prev_row [B, W·C] ->
    (the state after it, logits of the next row [B, W·C·K], (w·C + c)·K + k for output k of
    subpixel (w, c))."""
    z, new_state = prev_row, []
    for n, (c, h) in enumerate(state):
      gates = (self.input_to_state[n](z) + self.state_to_state[n](h)
               + class_bias(self.class_bias[n], labels, 4 * self.features))
      c, z = lstm_update(gates, c)
      new_state.append((c, z))
    return tuple(new_state), self.readout(z, prev_row.shape[-1] * self.num_outputs)

  def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    batch, height, width, channels = x.shape
    rows = x.reshape(batch, height, width * channels)
    prev_rows = jnp.pad(rows[:, :-1], ((0, 0), (1, 0), (0, 0)))
    scan = nn.scan(RowRNN.step, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=(1, nn.broadcast), out_axes=1)
    _, logits = scan(self, initial_state(self, batch), prev_rows, labels)
    return logits.reshape(batch, height, width, channels, self.num_outputs)


def initial_state(model: RowRNN, batch_size: int) -> State:
  zeros = jnp.zeros((batch_size, model.features))
  return tuple((zeros, zeros) for _ in range(model.num_layers))


def sample_cached(model: RowRNN, variables, key: jax.Array, shape: tuple[int, int, int, int],
                  labels: jax.Array | None, draw) -> jax.Array:
  """The samples of the uncached reference (the whole model per subpixel p = (i·W + j)·C + c,
  drawn by draw(fold_in(key, p), logits [B, K])) with one `RowRNN.step` per row, in one scan:
  a row's subpixels are independent given the rows above, so they are drawn at once (draw
  vmapped over them, with their own keys)."""
  batch, height, width, channels = shape
  size = width * channels

  def row(carry, i):
    state, prev_row = carry
    state, logits = model.apply(variables, state, prev_row, labels, method=RowRNN.step)
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, i * size + jnp.arange(size))
    values = jax.vmap(draw, in_axes=(0, 1), out_axes=1)(keys, logits.reshape(batch, size, -1))
    return (state, values), values

  carry = (initial_state(model, batch), jnp.zeros((batch, size), jnp.float32))
  _, rows = jax.lax.scan(row, carry, jnp.arange(height))
  return jnp.moveaxis(rows, 0, 1).reshape(shape)


def default_config(name: str = "row_rnn") -> ml_collections.ConfigDict:
  """The keys `make` reads, with defaults (conditional: a class bias, when the
  data has labels)."""
  return ml_collections.ConfigDict(dict(
      name=name, features=32, num_layers=7, conditional=False))


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> RowRNN:
  """config.model -> RowRNN; reads features, num_layers and conditional (class bias iff
  conditional and num_classes > 0)."""
  return RowRNN(features=c.features, num_layers=c.num_layers,
                num_outputs=spec.outputs_per_channel,
                num_classes=spec.num_classes if c.conditional else 0)
