"""Twin of jaxgen.models.draw / jaxgen.methods.draw with selective attention: LSTM encoder and
decoder for T steps, Gaussian read and write filterbanks (eqs. 19-29 of Gregor et al. 2015),
the Bernoulli NLL of the final canvas plus β·Σ_t KL, gradients clipped by global norm."""

import ml_collections
import torch
from torch import nn

from twins import Twin, common

FILTER_EPS = 1e-8  # jaxgen.models.draw.FILTER_EPS


def filterbank(center, delta, sigma2, size: int, n: int) -> torch.Tensor:
  """[B, N, size]: N Gaussians over pixels 1..size centred at g + (i - N/2 - 0.5) δ, each row
  normalised."""
  mu = center + (torch.arange(1, n + 1) - n / 2 - 0.5) * delta
  f = torch.exp(-torch.square(torch.arange(1, size + 1) - mu[..., None])
                / (2.0 * sigma2[..., None]))
  return f / (f.sum(-1, keepdim=True) + FILTER_EPS)


def filters(raw, height: int, width: int, n: int):
  """[B, 5] -> (F_y [B, N, H], F_x [B, N, W], γ [B, 1]) (jaxgen.models.draw.filters)."""
  gx_, gy_, log_sigma2, log_delta_, log_gamma = raw.split(1, -1)
  gx, gy = (width + 1) / 2 * (gx_ + 1), (height + 1) / 2 * (gy_ + 1)
  delta = (max(height, width) - 1) / max(n - 1, 1) * log_delta_.exp()
  sigma2 = log_sigma2.exp()
  return (filterbank(gy, delta, sigma2, height, n), filterbank(gx, delta, sigma2, width, n),
          log_gamma.exp())


class DRAW(nn.Module):
  def __init__(self, c: ml_collections.ConfigDict, shape):
    super().__init__()
    self.height, self.width, channels = shape
    self.c = c
    self.encoder = nn.LSTMCell(2 * c.read_n ** 2 * channels + c.hidden, c.hidden)
    self.decoder = nn.LSTMCell(c.latent_dim, c.hidden)
    for lstm in (self.encoder, self.decoder):  # Flax's LSTM cells have one bias per gate
      common.one_bias(lstm, keep="bias_hh")
    self.posterior = nn.Linear(c.hidden, 2 * c.latent_dim)
    self.read_attention = nn.Linear(c.hidden, 5)
    self.write_patch = nn.Linear(c.hidden, c.write_n ** 2 * channels)
    self.write_attention = nn.Linear(c.hidden, 5)

  def forward(self, x, eps):
    """x [B, C, H, W], eps [T, B, latent] -> (final canvas logits, Σ_t KL [B])."""
    batch, channels = x.shape[:2]
    c, hw = self.c, (self.height, self.width)
    enc = dec = (x.new_zeros(batch, c.hidden), x.new_zeros(batch, c.hidden))
    canvas, kl = torch.zeros_like(x), 0.0
    for t in range(c.steps):
      fy, fx, gamma = filters(self.read_attention(dec[0]), *hw, c.read_n)
      glimpse = torch.einsum("bnh,bchw,bmw->bcnm", fy,
                             torch.cat([x, x - torch.sigmoid(canvas)], 1), fx)
      enc = self.encoder(torch.cat([gamma * glimpse.flatten(1), dec[0]], -1), enc)
      mean, logvar = self.posterior(enc[0]).chunk(2, -1)
      dec = self.decoder(mean + torch.exp(0.5 * logvar) * eps[t], dec)
      patch = self.write_patch(dec[0]).reshape(batch, channels, c.write_n, c.write_n)
      fy, fx, gamma = filters(self.write_attention(dec[0]), *hw, c.write_n)
      canvas = canvas + torch.einsum("bnh,bcnm,bmw->bchw", fy, patch, fx) / gamma[..., None, None]
      kl = kl + common.gaussian_kl(mean, logvar)
    return canvas, kl


def make(config: ml_collections.ConfigDict, shape, padding) -> Twin:
  if config.model.name != "attention":
    raise NotImplementedError("the DRAW twin mirrors DRAW with attention")
  model = DRAW(config.model, shape)
  opt = common.Adam(model.parameters(), config.optimizer)
  x = common.images(config, shape, config.batch_size)
  mask = common.real_pixels(shape, padding)
  steps, latent_dim, beta = config.model.steps, config.model.latent_dim, config.beta

  def loss():
    canvas, kl = model(x, torch.randn(steps, x.shape[0], latent_dim))
    return common.bernoulli_nll(canvas, x, mask).mean() + beta * kl.mean()

  return Twin(lambda: opt.update(loss), {"draw": common.count(model)},
              "nn.LSTMCell's bias_ih held at zero and frozen (Flax's LSTM cell has one bias)")
