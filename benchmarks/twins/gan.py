"""Twins of jaxgen.models.gan / jaxgen.methods.gan: the MLP GAN and DCGAN, optionally
class-conditional (label embedding in G, projection discriminator) with spectral norm in D,
trained in jaxgen's update order with its loss pairs (WGAN-GP's penalty included)."""

import math

import ml_collections
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from twins import Twin, common

# config.loss -> (D loss of real and fake logits, G loss of fake logits, gradient penalty),
# per example, as jaxgen.losses.GAN_LOSSES.
LOSSES = {
    "non_saturating": (lambda r, f: F.softplus(-r) + F.softplus(f), lambda f: F.softplus(-f),
                       False),
    "hinge": (lambda r, f: F.relu(1.0 - r) + F.relu(1.0 + f), lambda f: -f, False),
    "wgan_gp": (lambda r, f: f - r, lambda f: -f, True),
}
PRIORS = {"normal": torch.randn, "uniform": lambda *shape: 2.0 * torch.rand(*shape) - 1.0}


def _sn(layer: nn.Module, on: bool) -> nn.Module:
  return spectral_norm(layer) if on else layer


def _batch_norm(features: int) -> nn.BatchNorm2d:
  return nn.BatchNorm2d(features, eps=1e-5, momentum=0.1)  # Flax's momentum 0.9


class Generator(nn.Module):
  """Concatenates a learned label embedding (width latent_dim) with z when conditional."""

  def __init__(self, body: nn.Module, latent_dim: int, num_classes: int):
    super().__init__()
    self.body = body
    self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None

  def forward(self, z, labels):
    if self.embed is not None:
      z = torch.cat([z, self.embed(labels)], -1)
    return self.body(z)


class Discriminator(nn.Module):
  """logit = psi(phi(x)) [+ <embed(y), phi(x)>]: the projection discriminator when conditional;
  spectral norm, when on, covers psi and the embedding too."""

  def __init__(self, features: nn.Module, width: int, num_classes: int, sn: bool):
    super().__init__()
    self.features = features
    self.psi = _sn(nn.Linear(width, 1), sn)
    self.embed = _sn(nn.Embedding(num_classes, width), sn) if num_classes else None

  def forward(self, x, labels):
    h = self.features(x)
    logits = self.psi(h)[:, 0]
    if self.embed is not None:
      logits = logits + torch.sum(self.embed(labels) * h, -1)
    return logits


def mlp(c: ml_collections.ConfigDict, shape, num_classes: int):
  """z -> hidden_g (ReLU) -> image (sigmoid); image -> hidden_d (ReLU), as MLPGenerator and
  MLPFeatures."""
  height, width, channels = shape
  pixels = height * width * channels
  in_dim = c.latent_dim * (2 if num_classes else 1)
  output = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[c.output]
  g = common.dense_stack([in_dim, *c.hidden_g], nn.ReLU)
  g += [nn.Linear(c.hidden_g[-1], pixels), output(), nn.Unflatten(1, (channels, height, width))]
  d = [nn.Flatten()]
  for a, b in zip([pixels, *c.hidden_d], c.hidden_d):
    d += [_sn(nn.Linear(a, b), c.spectral_norm), nn.ReLU()]
  return (Generator(nn.Sequential(*g), c.latent_dim, num_classes),
          Discriminator(nn.Sequential(*d), c.hidden_d[-1], num_classes, c.spectral_norm))


def dcgan(c: ml_collections.ConfigDict, shape, num_classes: int):
  """DCGANGenerator and DCGANFeatures: z -> dense (no bias) -> 4x4, BN, ReLU -> 4x4 stride-2
  transposed convolutions (no bias before BN), tanh; D mirrored with stride-2 convolutions,
  LeakyReLU 0.2, d_norm from the second layer on (no bias before batch norm)."""
  if c.d_norm not in ("batch", "none"):
    raise NotImplementedError(f"model.d_norm {c.d_norm!r}")
  size, _, channels = shape
  widths = [c.base_width * 2 ** i for i in reversed(range(int(math.log2(size)) - 2))]
  in_dim = c.latent_dim * (2 if num_classes else 1)
  g = [nn.Linear(in_dim, 16 * widths[0], bias=False), nn.Unflatten(1, (widths[0], 4, 4)),
       _batch_norm(widths[0]), nn.ReLU()]
  for i, (a, b) in enumerate(zip(widths, [*widths[1:], channels])):
    last = i == len(widths) - 1
    g += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=last)]
    g += [nn.Tanh()] if last else [_batch_norm(b), nn.ReLU()]
  d, k = [], c.d_kernel_size
  for i, (a, b) in enumerate(zip([channels, *widths[::-1]], widths[::-1])):
    norm = i > 0 and c.d_norm == "batch"
    # padding (k - 1) // 2 gives SAME's output size; for k = 5, SAME pads (1, 2), this (2, 2).
    d += [_sn(nn.Conv2d(a, b, k, 2, (k - 1) // 2, bias=not norm), c.spectral_norm)]
    d += [_batch_norm(b), nn.LeakyReLU(0.2)] if norm else [nn.LeakyReLU(0.2)]
  return (Generator(nn.Sequential(*g), c.latent_dim, num_classes),
          Discriminator(nn.Sequential(*d, nn.Flatten()), 16 * widths[0], num_classes,
                        c.spectral_norm))


def gradient_penalty(d: nn.Module, real, fake, labels) -> torch.Tensor:
  """(‖∇ D(x̂)‖₂ - 1)² at x̂ = εx + (1 - ε)x̃ per example, averaged (jaxgen.losses)."""
  eps = torch.rand(real.shape[0], 1, 1, 1)
  x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
  grads, = torch.autograd.grad(d(x_hat, labels).sum(), x_hat, create_graph=True)
  return torch.square(grads.flatten(1).norm(dim=1) - 1.0).mean()


def make(config: ml_collections.ConfigDict, shape, padding) -> Twin:
  del padding
  c = config.model
  num_classes = common.NUM_CLASSES if c.conditional else 0
  g, d = {"mlp": mlp, "dcgan": dcgan}[c.name](c, shape, num_classes)
  if config.loss not in LOSSES or config.gan.r1_weight or config.gan.ema_decay:
    raise NotImplementedError("the GAN twin mirrors the losses of LOSSES, without R1 or EMA")
  d_loss, g_loss, penalty = LOSSES[config.loss]
  opt_g, opt_d = common.Adam(g.parameters(), config.optimizer), common.Adam(d.parameters(),
                                                                          config.d_optimizer)
  n_critic, gp_weight = config.gan.n_critic, config.gan.gp_weight
  prior = PRIORS[config.gan.prior]
  chunk = config.batch_size // n_critic
  real = common.images(config, shape, config.batch_size)
  labels = torch.randint(0, common.NUM_CLASSES, (config.batch_size,)) if num_classes else None

  def d_loss_fn(x, y):
    with torch.no_grad():
      fake = g(prior(x.shape[0], c.latent_dim), y)
    loss = d_loss(d(x, y), d(fake, y)).mean()
    return loss + gp_weight * gradient_penalty(d, x, fake, y) if penalty else loss

  def step():
    # n_critic D steps, each on its own chunk of real images against as many fresh fakes.
    for i in range(n_critic):
      rows = slice(i * chunk, (i + 1) * chunk)
      loss_d = opt_d.update(lambda: d_loss_fn(real[rows], labels[rows] if num_classes else None))
    # One G step on fresh latents (and uniformly drawn labels), D's weights not differentiated.
    y = torch.randint(0, common.NUM_CLASSES, (chunk,)) if num_classes else None
    d.requires_grad_(False)
    loss_g = opt_g.update(lambda: g_loss(d(g(prior(chunk, c.latent_dim), y), y)).mean())
    d.requires_grad_(True)
    return loss_d + loss_g

  return Twin(step, {"generator": common.count(g), "discriminator": common.count(d)}, "")
