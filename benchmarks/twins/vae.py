"""Twins of jaxgen.models.vae / jaxgen.methods.vae: the MLP VAE and the conv VAE, trained on the
negative ELBO (Bernoulli likelihood over the data's pixels, closed-form KL, one reparameterized
sample per example)."""

import ml_collections
import torch
from torch import nn

from twins import Twin, common

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def mlp(c: ml_collections.ConfigDict, shape) -> tuple[nn.Module, nn.Module]:
  """784 -> hidden -> 2·latent and latent -> reversed(hidden) -> 784, as MLPEncoder/Decoder."""
  act = ACTIVATIONS[c.activation]
  height, width, channels = shape
  pixels, hidden = height * width * channels, list(c.hidden)
  encoder = nn.Sequential(nn.Flatten(), *common.dense_stack([pixels, *hidden], act),
                          nn.Linear(hidden[-1], 2 * c.latent_dim))
  decoder = nn.Sequential(*common.dense_stack([c.latent_dim, *reversed(hidden)], act),
                          nn.Linear(hidden[0], pixels), nn.Unflatten(1, (channels, height, width)))
  return encoder, decoder


def conv(c: ml_collections.ConfigDict, shape) -> tuple[nn.Module, nn.Module]:
  """4x4 stride-2 convolutions (32 -> 16 -> 8 -> 4), a dense layer to 2·latent; mirrored by a
  dense layer and 4x4 stride-2 transposed convolutions, as ConvEncoder/Decoder."""
  act = ACTIVATIONS[c.activation]
  height, width, channels = shape
  widths = [channels, *c.features]
  down = 2 ** len(c.features)
  flat = height // down * width // down * widths[-1]
  encoder = []
  for a, b in zip(widths, widths[1:]):
    encoder += [nn.Conv2d(a, b, 4, 2, 1), act()]
  decoder = [nn.Linear(c.latent_dim, flat), act(),
             nn.Unflatten(1, (widths[-1], height // down, width // down))]
  for a, b in zip(reversed(widths[1:]), reversed(widths[:-1])):
    decoder += [nn.ConvTranspose2d(a, b, 4, 2, 1), act()]
  return (nn.Sequential(*encoder, nn.Flatten(), nn.Linear(flat, 2 * c.latent_dim)),
          nn.Sequential(*decoder[:-1]))  # no activation on the logits


def make(config: ml_collections.ConfigDict, shape, padding) -> Twin:
  if config.loss != "bernoulli" or config.train_k != 1:
    raise NotImplementedError("the VAE twin mirrors the Bernoulli ELBO (train_k = 1) only")
  encoder, decoder = {"mlp": mlp, "conv": conv}[config.model.name](config.model, shape)
  opt = common.Adam([*encoder.parameters(), *decoder.parameters()], config.optimizer)
  x = common.images(config, shape, config.batch_size)
  mask = common.real_pixels(shape, padding)
  latent_dim, beta = config.model.latent_dim, config.beta

  def loss():
    mean, logvar = encoder(x).chunk(2, -1)
    z = mean + torch.exp(0.5 * logvar) * torch.randn(x.shape[0], latent_dim)
    recon = common.bernoulli_nll(decoder(z), x, mask).mean()
    return recon + beta * common.gaussian_kl(mean, logvar).mean()

  return Twin(lambda: opt.update(loss), {"vae": common.count(encoder, decoder)}, "")
