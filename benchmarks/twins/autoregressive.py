"""Twins of jaxgen's pixel models (jaxgen/models/pixelcnn.py, gated_pixelcnn.py, pixelrnn.py,
row_rnn.py) trained on the exact Bernoulli NLL, as jaxgen.methods.autoregressive does. Masked
convolutions multiply their weights by jaxgen's own masks (`causal_mask`) on every call, as
jaxgen's MaskedConv does."""

import ml_collections
import torch
import torch.nn.functional as F
from torch import nn

from jaxgen.models.layers import causal_mask  # the masks themselves: numpy, no JAX computation
from twins import Twin, common


class MaskedConv2d(nn.Conv2d):
  """A stride-1 'SAME' convolution (odd kernel) whose weight is multiplied by causal_mask."""

  def __init__(self, in_features: int, out_features: int, kernel_size: tuple[int, int],
               mask_type: str, channels: int):
    kh, kw = kernel_size
    assert kh % 2 and kw % 2, "SAME padding is symmetric for odd kernels only"
    super().__init__(in_features, out_features, kernel_size, padding=(kh // 2, kw // 2))
    mask = causal_mask(kernel_size, in_features, out_features, channels, mask_type)
    self.register_buffer("mask", torch.from_numpy(mask.transpose(3, 2, 0, 1).copy()))

  def forward(self, x):
    return self._conv_forward(x, self.weight * self.mask, self.bias)


def _output(hidden: nn.Module, logits: nn.Module, r: torch.Tensor) -> torch.Tensor:
  """ReLU, 1×1, ReLU, 1×1 (jaxgen.models.layers.masked_output, for one output per subpixel)."""
  return logits(F.relu(hidden(F.relu(r))))


class PixelCNN(nn.Module):
  """7×7 mask-A convolution to 2h, residual blocks (ReLU, 1×1 2h -> h, ReLU, k×k mask B, ReLU,
  1×1 h -> 2h), output layers."""

  def __init__(self, c: ml_collections.ConfigDict, channels: int):
    super().__init__()
    h, k = c.features, c.kernel_size
    self.first = MaskedConv2d(channels, 2 * h, (7, 7), "A", channels)
    self.blocks = nn.ModuleList(nn.ModuleList([
        MaskedConv2d(2 * h, h, (1, 1), "B", channels),
        MaskedConv2d(h, h, (k, k), "B", channels),
        MaskedConv2d(h, 2 * h, (1, 1), "B", channels)]) for _ in range(c.num_layers))
    self.hidden = MaskedConv2d(2 * h, c.out_features, (1, 1), "B", channels)
    self.logits = MaskedConv2d(c.out_features, channels, (1, 1), "B", channels)

  def forward(self, x):
    r = self.first(x)
    for reduce, conv, expand in self.blocks:
      r = r + expand(F.relu(conv(F.relu(reduce(F.relu(r))))))
    return _output(self.hidden, self.logits, r)


def _gate(pre: torch.Tensor) -> torch.Tensor:
  a, b = pre.chunk(2, 1)
  return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
  """The vertical stack's (k//2 + 1)×k convolution over the rows at or above, its 1×1 link to the
  horizontal stack (shifted down a row), the horizontal 1×k masked convolution, gates, the 1×1
  output (residual after the first layer) and the 1×1 skip."""

  def __init__(self, in_features: int, features: int, k: int, channels: int, first: bool):
    super().__init__()
    f2 = 2 * features
    self.k, self.first = k, first
    self.v_conv = nn.Conv2d(in_features, f2, (k // 2 + 1, k))
    self.link = nn.Conv2d(f2, f2, 1)
    self.h_conv = MaskedConv2d(in_features, f2, (1, k), "A" if first else "B", channels)
    self.h_out = MaskedConv2d(features, features, (1, 1), "B", channels)
    self.skip = MaskedConv2d(features, features, (1, 1), "B", channels)

  def forward(self, v, h, last: bool):
    pad = self.k // 2
    pre = self.v_conv(F.pad(v, (pad, pad, pad, 0)))
    link = F.pad(self.link(pre), (0, 0, 1, 0))[:, :, :-1]  # down a row
    g = _gate(self.h_conv(h) + link)
    out = self.h_out(g)
    return None if last else _gate(pre), (out if self.first else h + out), self.skip(g)


class GatedPixelCNN(nn.Module):
  def __init__(self, c: ml_collections.ConfigDict, channels: int):
    super().__init__()
    f = c.features
    self.layers = nn.ModuleList(
        GatedLayer(f if n else channels, f, c.kernel_size if n else 7, channels, n == 0)
        for n in range(c.num_layers))
    self.hidden = MaskedConv2d(f, c.out_features, (1, 1), "B", channels)
    self.logits = MaskedConv2d(c.out_features, channels, (1, 1), "B", channels)

  def forward(self, x):
    v = h = x
    skips = 0.0
    for n, layer in enumerate(self.layers):
      v, h, skip = layer(v, h, n + 1 == len(self.layers))
      skips = skips + skip
    return _output(self.hidden, self.logits, skips)


class RowLSTM(nn.Module):
  """1×3 mask-B input-to-state convolution of the whole map, then row by row an unmasked width-3
  state-to-state convolution of the row above's hidden state."""

  def __init__(self, features: int, channels: int):
    super().__init__()
    self.input_to_state = MaskedConv2d(2 * features, 4 * features, (1, 3), "B", channels)
    self.state_to_state = nn.Conv1d(features, 4 * features, 3, padding=1, bias=False)

  def forward(self, u, x):
    del x
    gates = self.input_to_state(u)  # [B, 4h, H, W]
    c = h = u.new_zeros(u.shape[0], gates.shape[1] // 4, u.shape[3])
    rows = []
    for i in range(u.shape[2]):
      c, h = common.lstm_update(gates[:, :, i] + self.state_to_state(h), c, 1)
      rows.append(h)
    return torch.stack(rows, 2)


def skew(x: torch.Tensor) -> torch.Tensor:
  """[..., H, W, F] -> [..., H, W + H - 1, F], row r shifted right by r (pixelrnn.skew)."""
  *lead, height, width, features = x.shape
  x = F.pad(x, (0, 0, 0, height)).reshape(*lead, height * (width + height), features)
  return x[..., :height * (width + height - 1), :].reshape(*lead, height, -1, features)


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
  """Inverts `skew`."""
  *lead, height, skewed, features = x.shape
  x = F.pad(x.reshape(*lead, height * skewed, features), (0, 0, 0, height))
  return x.reshape(*lead, height, skewed + 1, features)[..., :width, :]


class DiagonalBiLSTM(nn.Module):
  """Both directions in one loop over the skewed columns: a 1×1 mask-B input-to-state
  convolution (left to right), a 1×1 one of [u, x] on the flipped map (right to left), a 2×1
  state-to-state column convolution per direction; the right-to-left output shifted down a
  row."""

  def __init__(self, features: int, channels: int):
    super().__init__()
    h = features
    self.input_to_state = MaskedConv2d(2 * h, 4 * h, (1, 1), "B", channels)
    self.input_to_state_backward = nn.Conv2d(2 * h + channels, 4 * h, 1)
    self.state_to_state = nn.Parameter(common.lecun_normal_(torch.empty(2, 2 * h, 4 * h), 2 * h))

  def forward(self, u, x):
    batch, _, height, width = u.shape
    forward = self.input_to_state(u)
    backward = self.input_to_state_backward(torch.cat([u, x], 1).flip(3))
    gates = skew(torch.stack([forward, backward]).permute(0, 1, 3, 4, 2))  # [2, B, H, W', 4h]
    c = h = u.new_zeros(2, batch, height, self.state_to_state.shape[1] // 2)
    columns = []
    for j in range(gates.shape[3]):
      above = F.pad(h[:, :, :-1], (0, 0, 1, 0))  # zero above the top row
      state = torch.cat([above, h], -1) @ self.state_to_state[:, None]
      c, h = common.lstm_update(gates[:, :, :, j] + state, c, -1)
      columns.append(h)
    hidden = unskew(torch.stack(columns, 3), width)  # [2, B, H, W, h]
    backward = F.pad(hidden[1, :, :-1].flip(2), (0, 0, 0, 0, 1, 0))
    return (hidden[0] + backward).permute(0, 3, 1, 2)


class PixelRNN(nn.Module):
  """7×7 mask-A convolution to 2h, recurrent layers with 1×1 residual convolutions, output."""

  def __init__(self, c: ml_collections.ConfigDict, channels: int):
    super().__init__()
    h = c.features
    layer = {"row_lstm": RowLSTM, "diagonal_bilstm": DiagonalBiLSTM}[c.name]
    self.first = MaskedConv2d(channels, 2 * h, (7, 7), "A", channels)
    self.layers = nn.ModuleList(layer(h, channels) for _ in range(c.num_layers))
    self.residuals = nn.ModuleList(MaskedConv2d(h, 2 * h, (1, 1), "B", channels)
                                   for _ in range(c.num_layers))
    self.hidden = MaskedConv2d(2 * h, c.out_features, (1, 1), "B", channels)
    self.logits = MaskedConv2d(c.out_features, channels, (1, 1), "B", channels)

  def forward(self, x):
    r = self.first(x)
    for layer, residual in zip(self.layers, self.residuals):
      r = r + residual(layer(r, x))
    return _output(self.hidden, self.logits, r)


class RowRNN(nn.Module):
  """nn.LSTM over the rows (row t - 1 in, zeros at t = 0), a dense readout of each row's
  logits. nn.LSTM's second bias is held at zero (common.one_bias)."""

  def __init__(self, c: ml_collections.ConfigDict, shape):
    super().__init__()
    _, width, channels = shape
    self.lstm = nn.LSTM(width * channels, c.features, c.num_layers, batch_first=True)
    common.one_bias(self.lstm, keep="bias_ih")
    self.readout = nn.Linear(c.features, width * channels)

  def forward(self, x):
    batch, channels, height, width = x.shape
    rows = x.permute(0, 2, 3, 1).reshape(batch, height, width * channels)
    out, _ = self.lstm(F.pad(rows[:, :-1], (0, 0, 1, 0)))
    return self.readout(out).reshape(batch, height, width, channels).permute(0, 3, 1, 2)


def make(config: ml_collections.ConfigDict, shape, padding) -> Twin:
  del padding
  c = config.model
  if config.head != "bernoulli" or c.conditional:
    raise NotImplementedError("the pixel twins mirror unconditional Bernoulli models only")
  channels = shape[-1]
  if c.name == "row_rnn":
    model = RowRNN(c, shape)
  else:
    model = {"pixelcnn": PixelCNN, "gated_pixelcnn": GatedPixelCNN, "row_lstm": PixelRNN,
             "diagonal_bilstm": PixelRNN}[c.name](c, channels)
  opt = common.Adam(model.parameters(), config.optimizer)
  x = common.images(config, shape, config.batch_size)

  differences = ("nn.LSTM's second bias vector held at zero and frozen (jaxgen's LSTM has one)"
                 if c.name == "row_rnn" else "")
  return Twin(lambda: opt.update(lambda: common.bernoulli_nll(model(x), x).mean()),
              {"model": common.count(model)}, differences)
