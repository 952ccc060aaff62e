"""What the twins share: the optimizer from a jaxgen optimizer config, the fixed batch, the
likelihood terms, the LSTM update, parameter counts."""

import math
from typing import Callable

import ml_collections
import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 10  # every default config of the benchmark trains on a 10-class dataset


class Adam:
  """torch.optim.Adam with jaxgen optimizer config `c`'s lr, betas and eps (jaxgen.optim), the
  gradients clipped to the global norm it asks for; refuses what the twins do not mirror (other
  optimizers, warmup, weight decay, schedules)."""

  def __init__(self, parameters, c: ml_collections.ConfigDict):
    if c.name != "adam" or c.weight_decay or c.warmup_steps or c.lr_boundaries:
      raise NotImplementedError(f"the PyTorch twins mirror plain Adam only, got {c}")
    self.parameters = [p for p in parameters if p.requires_grad]
    self.optimizer = torch.optim.Adam(self.parameters, lr=c.lr, betas=(c.b1, c.b2), eps=c.eps)
    self.clip = c.grad_clip_norm

  def update(self, loss_fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    """One update on the gradient of loss_fn(); returns the loss before it."""
    self.optimizer.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    if self.clip > 0:
      nn.utils.clip_grad_norm_(self.parameters, self.clip)
    self.optimizer.step()
    return loss.detach()


def count(*modules: nn.Module) -> int:
  """Trainable parameters (frozen ones, e.g. a second LSTM bias held at zero, left out)."""
  return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def images(config: ml_collections.ConfigDict, shape: tuple[int, int, int],
           batch_size: int) -> torch.Tensor:
  """[B, C, H, W] random images in the range data.preprocess makes: {0, 1} (binarize),
  [0, 1] (scale01) or [-1, 1] (scale11)."""
  height, width, channels = shape
  u = torch.rand(batch_size, channels, height, width)
  mode = config.data.preprocess
  if mode == "binarize":
    return torch.bernoulli(u)
  if mode in ("scale01", "scale11"):
    return u if mode == "scale01" else 2.0 * u - 1.0
  raise NotImplementedError(f"data.preprocess {mode!r}")


def dense_stack(sizes, act: type[nn.Module]) -> list[nn.Module]:
  """Linear + activation for each pair of consecutive sizes."""
  layers = []
  for a, b in zip(sizes, sizes[1:]):
    layers += [nn.Linear(a, b), act()]
  return layers


def real_pixels(shape: tuple[int, int, int], padding) -> torch.Tensor:
  """[1, 1, H, W]: 1 on the data's pixels, 0 on the padding (jaxgen.methods.base.real_pixels)."""
  (top, bottom), (left, right) = padding
  height, width, _ = shape
  mask = torch.zeros(1, 1, height, width)
  mask[..., top:height - bottom, left:width - right] = 1.0
  return mask


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
  """[B]: -log Bernoulli(x; sigmoid(logits)) summed over each example's pixels (in `mask`)."""
  nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
  if mask is not None:
    nll = nll * mask
  return nll.flatten(1).sum(1)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
  """KL(N(mean, exp(logvar)) || N(0, I)) summed over the last axis."""
  return 0.5 * torch.sum(logvar.exp() + mean.square() - 1.0 - logvar, -1)


def lstm_update(gates: torch.Tensor, c: torch.Tensor,
                dim: int) -> tuple[torch.Tensor, torch.Tensor]:
  """Gate pre-activations, blocks [o | f | i | g] along `dim`, and the cell state -> (new cell
  state, hidden state), as jaxgen.models.pixelrnn.lstm_update."""
  o, f, i, g = gates.chunk(4, dim)
  c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
  return c, torch.sigmoid(o) * torch.tanh(c)


def one_bias(lstm: nn.Module, keep: str) -> None:
  """PyTorch's LSTMs add two bias vectors (bias_ih, bias_hh), Flax's and jaxgen's one: hold the
  biases not named `keep` at zero and frozen, so the function and the trainable parameters are
  jaxgen's (at the cost of one zero addition per step)."""
  for name, p in lstm.named_parameters():
    if name.startswith("bias") and not name.startswith(keep):
      with torch.no_grad():
        p.zero_()
      p.requires_grad_(False)


def lecun_normal_(p: torch.Tensor, fan_in: int) -> torch.Tensor:
  """N(0, 1/fan_in) in place (Flax's default kernel initializer, untruncated)."""
  with torch.no_grad():
    return p.normal_(0.0, 1.0 / math.sqrt(fan_in))
