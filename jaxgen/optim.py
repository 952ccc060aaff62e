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
  """Every optimizer key a config may set, with its default.

  The learning rate is `lr`, reached by a linear warmup over `warmup_steps` when > 0, and from
  step lr_boundaries[j] on lr_values[j] (piecewise constant, e.g. a stepwise decay; boundaries
  in optimizer steps, increasing)."""
  c = ml_collections.ConfigDict(dict(
      name="adam", lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, momentum=0.0, decay=0.9,
      weight_decay=0.0, grad_clip_norm=0.0, warmup_steps=0, lr_boundaries=(), lr_values=()))
  c.update(overrides)
  return c


def learning_rate(c: ml_collections.ConfigDict) -> float | optax.Schedule:
  """The learning rate `default_config` describes: a float when constant, else a schedule of
  the optimizer's step count."""
  boundaries, values = list(c.lr_boundaries), list(c.lr_values)
  if len(boundaries) != len(values) or boundaries != sorted(set(boundaries)) or (
      boundaries and boundaries[0] <= c.warmup_steps):
    raise ValueError("optimizer.lr_boundaries must increase from after the warmup and match "
                     f"optimizer.lr_values in length, got {boundaries} and {values}")
  lr = optax.linear_schedule(0.0, c.lr, c.warmup_steps) if c.warmup_steps > 0 else c.lr
  if not boundaries:
    return lr
  first = lr if callable(lr) else optax.constant_schedule(lr)
  return optax.join_schedules([first, *map(optax.constant_schedule, values)], boundaries)


def make(c: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """clip -> scale by the optimizer's statistics -> decoupled weight decay -> -lr schedule."""
  parts = []
  if c.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(c.grad_clip_norm))
  parts.append(registry.resolve(c.name, OPTIMIZERS, kind="optimizer")(c))
  if c.weight_decay > 0:
    parts.append(optax.add_decayed_weights(c.weight_decay))
  parts.append(optax.scale_by_learning_rate(learning_rate(c)))
  return optax.chain(*parts)
