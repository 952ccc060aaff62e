"""Autoregressive pixel models (PixelCNN, Gated PixelCNN, PixelRNN, the row LSTM) as one
`Method`: exact likelihood p(x) = Π_p p(x_p | x_<p) over subpixels in raster order, channels
R -> G -> B innermost, and sampling one subpixel at a time.

Config keys read (all declared in `default_method_config`):
  model.name: a key of MODELS, or "module:attr" naming an object with `make` (and optionally
        `sample_cached`), as the model files in jaxgen/models have
  model.features, model.num_layers, model.kernel_size, model.out_features, model.conditional
        -> the model file (each reads what its architecture uses)
  head: "bernoulli" (binary data, data.preprocess = "binarize"), "softmax256" (8-bit data,
        data.preprocess = "scale01"; a 256-way softmax per subpixel) or "logistic_mixture"
        (8-bit data; a mixture of MIXTURE_COMPONENTS discretized logistics per subpixel, as
        PixelCNN++), see HEADS
  cached_sampling: use the model's cached sampler where it has one (same samples, faster)
  optimizer: see jaxgen.optim.default_config

Every model maps inputs x [B, H, W, C] (binary {0, 1}, or 8-bit values v as v / 127.5 - 1) and
labels [B] to logits [B, H, W, C, K], logits[:, i, j, c] seeing only x before (i, j) in raster
order and x[:, i, j, :c]. Evaluation reports the exact NLL in nats per image and in bits per
subpixel (bits/dim).
"""

import functools
import importlib
import logging
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import losses, optim, registry
from jaxgen.methods.base import Batch, Method, Metrics, PRNGKey, TrainState
from jaxgen.methods.base import optimizer_step
from jaxgen.types import DataSpec, ModelSpec

# Model name -> the jaxgen.models file that builds it (imported when used).
MODELS = {"pixelcnn": "pixelcnn", "gated_pixelcnn": "gated_pixelcnn", "row_lstm": "pixelrnn",
          "diagonal_bilstm": "pixelrnn", "row_rnn": "row_rnn"}


class Head(NamedTuple):
  """How a subpixel's K logits define its distribution.

    num_outputs: K.
    preprocess: the data.preprocess mode whose output `targets` expects.
    targets(image) -> the values modelled (binary floats, or int 8-bit values).
    inputs(targets) -> float model inputs.
    nll(logits [B, H, W, C, K], targets) -> [B] nats.
    draw(key, logits [B, K]) -> [B] float model inputs of a sample.
    display(inputs) -> images in [0, 1].
  """
  num_outputs: int
  preprocess: str
  targets: Callable
  inputs: Callable
  nll: Callable
  draw: Callable
  display: Callable


def _to_signed(values):
  """8-bit values -> model inputs in [-1, 1]."""
  return values.astype(jnp.float32) / 127.5 - 1.0


def _eight_bit_targets(image):
  """Images in [0, 1] (data.preprocess "scale01") -> their int 8-bit values."""
  return jnp.round(image * 255.0).astype(jnp.int32)


def _eight_bit_display(x):
  return jnp.round((x + 1.0) * 127.5) / 255.0


MIXTURE_COMPONENTS = 10  # of the logistic mixture head, as PixelCNN++


def _draw_logistic_mixture(key, params):
  """A draw from `losses.discretized_logistic_mixture_nll`'s distribution: a component, then
  its logistic, clipped to [-1, 1] and rounded to the 8-bit grid (the edge bins' mass)."""
  logits, mean, log_scale = jnp.split(params, 3, axis=-1)
  pick_key, noise_key = jax.random.split(key)
  m = jax.random.categorical(pick_key, logits)[:, None]
  mean, log_scale = (jnp.take_along_axis(a, m, -1)[:, 0] for a in (mean, log_scale))
  u = jax.random.uniform(noise_key, mean.shape, minval=1e-5, maxval=1.0 - 1e-5)
  x = mean + jnp.exp(jnp.maximum(log_scale, -7.0)) * (jnp.log(u) - jnp.log1p(-u))
  return _to_signed(jnp.round((jnp.clip(x, -1.0, 1.0) + 1.0) * 127.5))


HEADS = {
    "bernoulli": Head(
        num_outputs=1, preprocess="binarize", targets=lambda image: image,
        inputs=lambda t: t, nll=lambda logits, t: losses.bernoulli_nll(logits[..., 0], t),
        draw=lambda key, logits: jax.random.bernoulli(
            key, jax.nn.sigmoid(logits[:, 0])).astype(jnp.float32),
        display=lambda x: x),
    "softmax256": Head(
        num_outputs=256, preprocess="scale01",
        targets=_eight_bit_targets, inputs=_to_signed, nll=losses.categorical_nll,
        draw=lambda key, logits: _to_signed(jax.random.categorical(key, logits)),
        display=_eight_bit_display),
    "logistic_mixture": Head(
        num_outputs=3 * MIXTURE_COMPONENTS, preprocess="scale01",
        targets=_eight_bit_targets, inputs=_to_signed,
        nll=lambda params, t: losses.discretized_logistic_mixture_nll(params, _to_signed(t)),
        draw=_draw_logistic_mixture, display=_eight_bit_display),
}


def default_method_config(model: str = "pixelcnn") -> ml_collections.ConfigDict:
  """Every key `make` reads, with defaults: `model` (a key of MODELS, with its model file's
  keys; a "module:attr" path gets its name alone) on binary 28×28 data."""
  return ml_collections.ConfigDict(dict(
      method="autoregressive",
      model=(get_model_file(model).default_config(model) if model in MODELS
             else registry.model_config(model, {})),
      head="bernoulli",
      cached_sampling=True,
      optimizer=optim.default_config(),
  ))


def get_model_file(name: str):
  """The object with `make` (and maybe `sample_cached`) that model.name names."""
  if name in MODELS:
    return importlib.import_module(f"jaxgen.models.{MODELS[name]}")
  return registry.resolve(name, MODELS, kind="pixel model")  # "module:attr", or the error


def sample_uncached(model, variables, key, shape, labels, draw):
  """The reference sampler: the whole model per subpixel p = (i·W + j)·C + c, drawn with
  fold_in(key, p). Cached samplers must give the same samples."""
  _, height, width, channels = shape

  def body(p, x):
    i, j, c = p // (width * channels), (p // channels) % width, p % channels
    logits = model.apply(variables, x, labels)[:, i, j, c]
    return x.at[:, i, j, c].set(draw(jax.random.fold_in(key, p), logits))

  return jax.lax.fori_loop(0, height * width * channels, body, jnp.zeros(shape, jnp.float32))


@functools.cache
def _announce_uncached(why: str, passes: int) -> None:
  """One line before the uncached sampler first runs (it logs when `sample` is traced, before
  the compile), once per process: it is one compiled loop, so no progress bar can follow it."""
  logging.info("autoregressive sampling without a cache (%s): %d sequential passes of the whole "
               "model in one compiled loop, about %d times as long as one forward pass of the "
               "batch; no progress is shown until it ends", why, passes, passes)


def make(config: ml_collections.ConfigDict, spec: DataSpec) -> Method:
  if config.head not in HEADS:
    raise ValueError(f"unknown head {config.head!r}; expected one of {sorted(HEADS)}")
  head = HEADS[config.head]
  if config.data.preprocess != head.preprocess:
    raise ValueError(f"head {config.head!r} models {head.preprocess!r} data, but "
                     f"data.preprocess is {config.data.preprocess!r}")
  if config.data.pad_to:
    raise ValueError("data.pad_to must be 0 for pixel models: padding would be modelled as "
                     f"pixels (got {config.data.pad_to})")
  model_file = get_model_file(config.model.name)
  num_classes = spec.num_classes if config.model.conditional else 0
  if config.model.conditional and not spec.num_classes:
    raise ValueError(f"model.conditional=True, but {config.data.name} has no class labels")
  model = model_file.make(config.model, ModelSpec.of(spec, head.num_outputs))
  cached = getattr(model_file, "sample_cached", None) if config.cached_sampling else None
  sampler = cached or sample_uncached
  tx = optim.make(config.optimizer)
  height, width, channels = spec.image_shape
  nats_to_bpd = 1.0 / (height * width * channels * math.log(2.0))

  def labels_of(batch):
    return batch["label"] if num_classes else None

  def nll(params, batch):
    targets = head.targets(batch["image"])
    logits = model.apply({"params": params}, head.inputs(targets), labels_of(batch))
    return head.nll(logits, targets)

  def init(key: PRNGKey, batch: Batch) -> TrainState:
    params = model.init(key, batch["image"], labels_of(batch))["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params={"model": params},
                      opt_state={"model": tx.init(params)}, collections={})

  def train_step(state: TrainState, batch: Batch, key: PRNGKey) -> tuple[TrainState, Metrics]:
    del key  # the likelihood is exact: no noise beyond the data's

    def loss_fn(params):
      loss = jnp.mean(nll(params, batch))
      return loss, dict(bpd=loss * nats_to_bpd)

    return optimizer_step(state, tx, "model", loss_fn)

  def eval_step(state: TrainState, batch: Batch, key: PRNGKey) -> Metrics:
    del key
    value = nll(state.params["model"], batch)
    return dict(nll=value, bpd=value * nats_to_bpd)

  def sample(state: TrainState, key: PRNGKey, num: int, labels=None) -> jax.Array:
    """`num` images in [0, 1]; a conditional model gets `labels` (default 0, 1, 2, ...)."""
    if num_classes:
      labels = jnp.arange(num) % num_classes if labels is None else jnp.asarray(labels, jnp.int32)
    else:
      labels = None
    if sampler is sample_uncached:
      _announce_uncached("config.cached_sampling=False" if not config.cached_sampling else
                         f"model {config.model.name!r} has no cached sampler",
                         height * width * channels)
    x = sampler(model, {"params": state.params["model"]}, key, (num, height, width, channels),
                labels, head.draw)
    return head.display(x).astype(jnp.float32)

  return Method(init=init, train_step=train_step, eval_step=eval_step, sample=sample)
