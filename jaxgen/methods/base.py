"""The seam between the trainer and the model families.

A method is a bundle of pure functions over a `TrainState` pytree (in the spirit of optax's
`GradientTransformation`). The trainer jits `train_step` once with the state donated and knows
nothing else about the family.

Batches reaching a method are dicts of device arrays, already preprocessed by the data
pipeline: ``{"image": float32 [B, H, W, C], "label": int32 [B]}``.
"""

from typing import Any, Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import optax

from jaxgen.types import DataSpec

PRNGKey = jax.Array
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue: a pytree, so it checkpoints and shards as one.

  `params` and `opt_state` are dicts keyed by network name (e.g. "vae", or "generator" and
  "discriminator"); `collections` holds mutable Flax collections such as batch_stats;
  `ema_params` mirrors `params` where a method keeps an exponential moving average, and
  `ema_collections` mirrors `collections` for the same networks (the averaged network runs on
  averaged statistics, not on the live network's).
  """
  step: jax.Array
  params: dict[str, Any]
  opt_state: dict[str, Any]
  collections: dict[str, Any]
  ema_params: dict[str, Any] | None = None
  ema_collections: dict[str, Any] | None = None


class Method(NamedTuple):
  """init(key, batch) -> state; train_step(state, batch, key) -> (state, scalar metrics);
  eval_step(state, batch, key) -> per-example metrics, each of shape [B];
  sample(state, key, num, labels) -> float32 images in [0, 1], shape [num, H, W, C] (None
  where a family generates nothing, e.g. a classifier);
  reconstruct(state, batch, key) -> float32 images in [0, 1] (None where a family has none);
  interpolate(state, key, num_rows, steps, labels) -> [num_rows · steps, H, W, C] in [0, 1],
  one latent walk per row (None where a family has no latent space);
  sample_sequence(state, key, num) -> [T, num, H, W, C] in [0, 1], every step of a sequential
  sampler, the last equal to `sample` with the same key (None for one-shot samplers)."""
  init: Callable[[PRNGKey, Batch], TrainState]
  train_step: Callable[[TrainState, Batch, PRNGKey], tuple[TrainState, Metrics]]
  eval_step: Callable[[TrainState, Batch, PRNGKey], Metrics]
  sample: Callable[..., jax.Array] | None = None
  reconstruct: Callable[[TrainState, Batch, PRNGKey], jax.Array] | None = None
  interpolate: Callable[..., jax.Array] | None = None
  sample_sequence: Callable[..., jax.Array] | None = None


def real_pixels(spec: DataSpec) -> jax.Array:
  """[H, W, 1] float32: 1 on the data's pixels, 0 on the padding data.pad_to added."""
  (top, bottom), (left, right) = spec.padding
  height, width = spec.image_shape[:2]
  mask = jnp.zeros((height, width, 1), jnp.float32)
  return mask.at[top:height - bottom, left:width - right].set(1.0)


def optimizer_step(state: TrainState, tx, name: str,
                   loss_fn: Callable[[Any], tuple[jax.Array, Metrics]]
                   ) -> tuple[TrainState, Metrics]:
  """One update of network `name` by optimizer `tx` on loss_fn(params) -> (loss, metrics):
  the state with step + 1, and the metrics with `loss` and the l2 norms of the gradients, new
  parameters and updates (big_vision's health signals)."""
  params = state.params[name]
  (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  updates, opt_state = tx.update(grads, state.opt_state[name], params)
  new_params = optax.apply_updates(params, updates)
  metrics = dict(loss=loss, **metrics, l2_grads=optax.tree.norm(grads),
                 l2_params=optax.tree.norm(new_params), l2_updates=optax.tree.norm(updates))
  return state.replace(step=state.step + 1, params={**state.params, name: new_params},
                       opt_state={**state.opt_state, name: opt_state}), metrics
