"""The seam between the trainer and the model families.

A method is a bundle of pure functions over a `TrainState` pytree (in the spirit of optax's
`GradientTransformation`). The trainer jits `train_step` once with the state donated and knows
nothing else about the family. Each slot's signature and shapes are a Protocol below
(`InitFn`, `TrainStepFn`, ...), as optax types `TransformInitFn` and `TransformUpdateFn`.

Batches reaching a method are dicts of device arrays, already preprocessed by the data
pipeline: ``{"image": float32 [B, H, W, C], "label": int32 [B]}`` ((H, W, C) is
`DataSpec.image_shape`; ``[B, 2]`` for 2-D points).

The trainer owns `TrainState.step`: it folds the step's data and noise keys from the state's
step before calling `train_step`, then sets step to that value + 1 (`count_steps`), whatever
the method returned. A method reads `state.step` if it wants to (a schedule) but never
advances it.
"""

from typing import Any, Callable, NamedTuple, Protocol

import flax
import jax
import jax.numpy as jnp
import optax

from jaxgen.types import DataSpec

PRNGKey = jax.Array
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
Params = Any  # a pytree of arrays


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue: a pytree, so it checkpoints and shards as one.

  `params` and `opt_state` are dicts keyed by network name (e.g. "vae", or "generator" and
  "discriminator"); `collections` holds mutable Flax collections such as batch_stats;
  `ema_params` mirrors `params` where a method keeps an exponential moving average, and
  `ema_collections` mirrors `collections` for the same networks (the averaged network runs on
  averaged statistics, not on the live network's). `step`, an int32 scalar, counts the train
  steps taken: the trainer advances it, never the method.
  """
  step: jax.Array
  params: dict[str, Any]
  opt_state: dict[str, Any]
  collections: dict[str, Any]
  ema_params: dict[str, Any] | None = None
  ema_collections: dict[str, Any] | None = None


class InitFn(Protocol):
  """The `init` slot of a `Method`: builds the state to train from.

  The trainer calls it under `jax.jit` and `jax.eval_shape` (to restore checkpoints), so the
  state's structure, shapes and dtypes may depend on the batch's shapes but not its values.
  """

  def __call__(self, key: PRNGKey, batch: Batch, /) -> TrainState:
    """Args:
      key: the run's `init` key.
      batch: zeros shaped like a training batch: {"image": float32 [B, *image_shape],
        "label": int32 [B]}, B = config.batch_size.

    Returns:
      A `TrainState` with step = jnp.zeros((), jnp.int32).
    """


class TrainStepFn(Protocol):
  """The `train_step` slot of a `Method`: one update of the state on one batch.

  The trainer jits it once (a retrace shows up as `compiles` in the run's summary) with the
  state donated, and calls it with a key folded from `state.step`: a different key and batch
  every step, the same ones for the same (seed, step), so resumed runs are bit-identical.
  """

  def __call__(self, state: TrainState, batch: Batch, key: PRNGKey, /
               ) -> tuple[TrainState, Metrics]:
    """Args:
      state: the state after `state.step` steps.
      batch: {"image": float32 [B, *image_shape], "label": int32 [B]}, preprocessed.
      key: this step's key, for all of the method's noise (split it once per use).

    Returns:
      (new state, metrics). The new state has the same structure, shapes and dtypes; its
      `step` is ignored: the trainer sets it to state.step + 1 (`count_steps`), so leave it as
      given. Metrics are float scalars (shape ()), read from the device every log_every steps
      and averaged over them; they must include "loss", which the trainer checks is finite.
    """


class EvalStepFn(Protocol):
  """The `eval_step` slot of a `Method`: per-example metrics, averaged over a split by the
  trainer (logged as eval/<name>). The trainer calls it on one example at a time (B = 1,
  vmapped), with a key folded from the example's index, so results do not depend on the
  batch size or the device count."""

  def __call__(self, state: TrainState, batch: Batch, key: PRNGKey, /) -> Metrics:
    """Args:
      state: the state to evaluate.
      batch: {"image": float32 [B, *image_shape], "label": int32 [B]}, preprocessed.
      key: for the method's noise (Monte Carlo bounds); ignore it for deterministic metrics.

    Returns:
      {name: float32 [B]}, one value per example.
    """


class SampleFn(Protocol):
  """The optional `sample` slot of a `Method` (None: the family generates nothing, e.g. a
  classifier): the sample grids, sample metrics (FID, ...) and `jaxgen.sample`."""

  def __call__(self, state: TrainState, key: PRNGKey, num: int,
               labels: jax.Array | None = None, /) -> jax.Array:
    """Args:
      state: the state to sample from.
      key: all of the sampler's noise; the same key gives the same images.
      num: how many images (static: jitted with static_argnums).
      labels: int32 [num] classes for a conditional model; None for the method's default
        (families without classes ignore it).

    Returns:
      float32 [num, *image_shape] images in [0, 1] (raw points for 2-D data).
    """


class ReconstructFn(Protocol):
  """The optional `reconstruct` slot of a `Method` (None where a family has none):
  reconstruction grids and the ssim sample metric. Called per example, as `eval_step`."""

  def __call__(self, state: TrainState, batch: Batch, key: PRNGKey, /) -> jax.Array:
    """Args:
      state: the state to reconstruct with.
      batch: {"image": float32 [B, *image_shape], "label": int32 [B]}, preprocessed.
      key: for the method's noise (e.g. one sample of q(z|x)).

    Returns:
      float32 [B, *image_shape] reconstructions in [0, 1].
    """


class InterpolateFn(Protocol):
  """The optional `interpolate` slot of a `Method` (None where a family has no latent space):
  latent walks, one per row of a grid (`jaxgen.sample --interpolate`)."""

  def __call__(self, state: TrainState, key: PRNGKey, num_rows: int, steps: int,
               labels: jax.Array | None = None, /) -> jax.Array:
    """Args:
      state: the state to sample from.
      key: the walks' end points.
      num_rows, steps: walks and images per walk (static).
      labels: int32 [num_rows], one class per row for a conditional model; None for the
        method's default.

    Returns:
      float32 [num_rows · steps, *image_shape] in [0, 1], row by row.
    """


class SampleSequenceFn(Protocol):
  """The optional `sample_sequence` slot of a `Method` (None for one-shot samplers): every
  step of a sequential sampler, e.g. DRAW's canvases (`jaxgen.sample --sequence`)."""

  def __call__(self, state: TrainState, key: PRNGKey, num: int, /) -> jax.Array:
    """Args:
      state: the state to sample from.
      key: all of the sampler's noise.
      num: how many images (static).

    Returns:
      float32 [T, num, *image_shape] in [0, 1]; the last step equals `sample(state, key, num)`.
    """


class Method(NamedTuple):
  """A model family's pure functions, one per slot; see each slot's Protocol for its shapes.
  The optional slots are None where a family has no such thing."""
  init: InitFn
  train_step: TrainStepFn
  eval_step: EvalStepFn
  sample: SampleFn | None = None
  reconstruct: ReconstructFn | None = None
  interpolate: InterpolateFn | None = None
  sample_sequence: SampleSequenceFn | None = None


def real_pixels(spec: DataSpec) -> jax.Array:
  """[H, W, 1] float32: 1 on the data's pixels, 0 on the padding data.pad_to added."""
  (top, bottom), (left, right) = spec.padding
  height, width = spec.image_shape[:2]
  mask = jnp.zeros((height, width, 1), jnp.float32)
  return mask.at[top:height - bottom, left:width - right].set(1.0)


def count_steps(train_step: TrainStepFn) -> TrainStepFn:
  """`train_step` as the trainer runs it: the method's update, then step = state.step + 1,
  whatever step the method returned (a method that still advances it, or changes it at all,
  is overridden the same way every step). Use it wherever you loop over a bare
  `method.train_step` and want the step counted."""
  def step_fn(state: TrainState, batch: Batch, key: PRNGKey) -> tuple[TrainState, Metrics]:
    new_state, metrics = train_step(state, batch, key)
    return new_state.replace(step=state.step + 1), metrics
  return step_fn


class Update(NamedTuple):
  """What `apply_update` returns."""
  params: Params                # after the update
  opt_state: optax.OptState     # after the update
  loss: jax.Array               # loss_fn's loss at the parameters before the update
  aux: Any                      # loss_fn's auxiliary output, as it returned it
  norms: Metrics                # l2_grads, l2_params (after the update), l2_updates


def apply_update(params: Params, opt_state: optax.OptState, tx: optax.GradientTransformation,
                 loss_fn: Callable[[Params], tuple[jax.Array, Any]]) -> Update:
  """One optimizer update of `params` on loss_fn(params) -> (scalar loss, aux), for every
  family and every network (each GAN player calls it for its own): the gradient, tx's update
  and the new parameters, with the l2 norms of the gradients, new parameters and updates
  (big_vision's health signals)."""
  (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  updates, opt_state = tx.update(grads, opt_state, params)
  new_params = optax.apply_updates(params, updates)
  norms = dict(l2_grads=optax.tree.norm(grads), l2_params=optax.tree.norm(new_params),
               l2_updates=optax.tree.norm(updates))
  return Update(new_params, opt_state, loss, aux, norms)


def optimizer_step(state: TrainState, tx, name: str,
                   loss_fn: Callable[[Params], tuple[jax.Array, Metrics]]
                   ) -> tuple[TrainState, Metrics]:
  """`train_step`'s whole update for a family of one network, `name`, without mutable
  collections: `apply_update` on loss_fn(params) -> (loss, metrics), returning the state with
  the new parameters and optimizer state, and the metrics with `loss` and the norms."""
  u = apply_update(state.params[name], state.opt_state[name], tx, loss_fn)
  new_state = state.replace(params={**state.params, name: u.params},
                            opt_state={**state.opt_state, name: u.opt_state})
  return new_state, dict(loss=u.loss, **u.aux, **u.norms)
