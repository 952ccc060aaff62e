"""Optimizers from config, composed with optax.chain."""

import ml_collections
import optax

from jaxgen import registry


def _adam(c):
  return optax.scale_by_adam(b1=c.b1, b2=c.b2, eps=c.eps)


def _sgd(c):
  return optax.trace(decay=c.momentum) if c.momentum else optax.identity()


def _rmsprop(c):
  return optax.scale_by_rms(decay=c.decay, eps=c.eps)


OPTIMIZERS = {"adam": _adam, "sgd": _sgd, "rmsprop": _rmsprop}


def default_config(**overrides) -> ml_collections.ConfigDict:
  """Every optimizer key a config may set, with its default."""
  c = ml_collections.ConfigDict(dict(
      name="adam", lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, momentum=0.0, decay=0.9,
      weight_decay=0.0, grad_clip_norm=0.0, warmup_steps=0))
  c.update(overrides)
  return c


def make(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """clip -> scale by the optimizer's statistics -> decoupled weight decay -> -lr schedule."""
  parts = []
  if c.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(c.grad_clip_norm))
  parts.append(registry.resolve(c.name, OPTIMIZERS, kind="optimizer")(c))
  if c.weight_decay > 0:
    parts.append(optax.add_decayed_weights(c.weight_decay))
  lr = optax.linear_schedule(0.0, c.lr, c.warmup_steps) if c.warmup_steps > 0 else c.lr
  parts.append(optax.scale_by_learning_rate(lr))
  return optax.chain(*parts)
