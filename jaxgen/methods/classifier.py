"""An image classifier as a `Method`: trained by the same trainer as the generative families,
and shipped (jaxgen/metrics/weights) as the feature extractor of "FID (domain)" and the judge
of conditional samples' class accuracy (jaxgen.metrics.domain). It generates nothing, so
`sample` is None.

Config keys read (all declared in `default_method_config`):
  model.features, model.convs_per_stage, model.feature_dim, model.dropout -> jaxgen.models.classifier
  augment.shift: random translations of up to this many pixels (zero fill; 0: none)
  augment.flip: random horizontal flips (for data whose classes are mirror-symmetric)
  optimizer: see jaxgen.optim.default_config
  lr_schedule: "constant", or "cosine" to decay the learning rate to 0 over config.num_steps
Batches must hold images in [0, 1] (data.preprocess = "scale01") and integer labels.
"""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen import optim
from jaxgen.methods.base import Batch, Method, Metrics, PRNGKey, TrainState, apply_update
from jaxgen.models import classifier as classifier_models
from jaxgen.types import DataSpec, ModelSpec

LR_SCHEDULES = ("constant", "cosine")


def default_method_config() -> ml_collections.ConfigDict:
  """Every key `make` reads, with defaults (the model's: jaxgen.models.classifier)."""
  return ml_collections.ConfigDict(dict(
      method="classifier",
      model=classifier_models.default_config(),
      augment=dict(shift=0, flip=False),
      optimizer=optim.default_config(),
      lr_schedule="cosine",
  ))


def random_shift(key: PRNGKey, images: jax.Array, max_shift: int) -> jax.Array:
  """Each image translated by its own uniform (dy, dx) in [-max_shift, max_shift], zero-filled
  (the background of MNIST-like data)."""
  _, height, width, channels = images.shape
  s = max_shift
  padded = jnp.pad(images, ((0, 0), (s, s), (s, s), (0, 0)))
  offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * s + 1)
  return jax.vmap(lambda image, o: jax.lax.dynamic_slice(
      image, (o[0], o[1], 0), (height, width, channels)))(padded, offsets)


def random_flip(key: PRNGKey, images: jax.Array) -> jax.Array:
  """Each image mirrored left-right with probability 1/2."""
  flip = jax.random.bernoulli(key, 0.5, (images.shape[0], 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1], images)


def make(config: ml_collections.ConfigDict, spec: DataSpec) -> Method:
  if spec.num_classes < 2:
    raise ValueError(f"a classifier needs labelled data with >= 2 classes; the dataset has "
                     f"{spec.num_classes}")
  if config.lr_schedule not in LR_SCHEDULES:
    raise ValueError(f"unknown lr_schedule {config.lr_schedule!r}; expected one of {LR_SCHEDULES}")
  model = classifier_models.make(config.model, ModelSpec.of(spec))
  tx = optim.make(config.optimizer)
  if config.lr_schedule == "cosine":
    tx = optax.chain(tx, optax.scale_by_schedule(optax.cosine_decay_schedule(1.0,
                                                                             config.num_steps)))
  max_shift, flip = config.augment.shift, config.augment.flip

  def init(key: PRNGKey, batch: Batch) -> TrainState:
    variables = model.init(key, batch["image"], train=False)
    params = variables["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params={"classifier": params},
                      opt_state={"classifier": tx.init(params)},
                      collections={"batch_stats": variables["batch_stats"]})

  def train_step(state: TrainState, batch: Batch, key: PRNGKey) -> tuple[TrainState, Metrics]:
    shift_key, flip_key, dropout_key = jax.random.split(key, 3)
    images, labels = batch["image"], batch["label"]
    if max_shift:
      images = random_shift(shift_key, images, max_shift)
    if flip:
      images = random_flip(flip_key, images)

    def loss_fn(params):
      (logits, _), updated = model.apply(
          {"params": params, "batch_stats": state.collections["batch_stats"]}, images,
          train=True, mutable=["batch_stats"], rngs={"dropout": dropout_key})
      loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
      return loss, (logits, updated["batch_stats"])

    u = apply_update(state.params["classifier"], state.opt_state["classifier"], tx, loss_fn)
    logits, batch_stats = u.aux
    metrics = dict(loss=u.loss, accuracy=jnp.mean(jnp.argmax(logits, -1) == labels), **u.norms)
    new_state = state.replace(params={"classifier": u.params},
                              opt_state={"classifier": u.opt_state},
                              collections={"batch_stats": batch_stats})
    return new_state, metrics

  def eval_step(state: TrainState, batch: Batch, key: PRNGKey) -> Metrics:
    """Per-example accuracy (0 or 1) and NLL in nats, with the running batch statistics;
    `key` is unused (evaluation is deterministic)."""
    del key
    logits, _ = model.apply({"params": state.params["classifier"], **state.collections},
                            batch["image"], train=False)
    labels = batch["label"]
    return dict(accuracy=(jnp.argmax(logits, -1) == labels).astype(jnp.float32),
                nll=optax.softmax_cross_entropy_with_integer_labels(logits, labels))

  return Method(init=init, train_step=train_step, eval_step=eval_step)
