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

import importlib
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import config as config_lib, losses, optim, registry
from jaxgen.methods.base import Batch, Method, Metrics, PRNGKey, TrainState
from jaxgen.methods.base import optimizer_step
from jaxgen.types import DataSpec

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


def default_method_config() -> ml_collections.ConfigDict:
  """Every key `make` reads, with defaults: PixelCNN on binary 28×28 data."""
  return ml_collections.ConfigDict(dict(
      method="autoregressive",
      model=dict(name="pixelcnn", features=32, num_layers=7, kernel_size=3, out_features=32,
                 conditional=False),
      head="bernoulli",
      cached_sampling=True,
      optimizer=optim.default_config(),
  ))


# Datasets of `pixel_config`: (data.name, train split, eval split, head).
DATASETS = {
    "binarized_mnist": ("binarized_mnist", "train", "test", "bernoulli"),
    "mnist": ("mnist", "train", "test", "bernoulli"),
    "fashion_mnist": ("fashion_mnist", "train", "test", "bernoulli"),
    "fashion_mnist8": ("fashion_mnist", "train", "test", "softmax256"),
    "cifar10": ("cifar10", "train", "test", "softmax256"),
}


def pixel_config(model_name: str, arg: str, *, sizes: dict[str, dict],
                 epochs: dict[str, float]) -> ml_collections.ConfigDict:
  """A whole run config for `model_name` (a key of MODELS) from a config file's argument: one
  dataset of DATASETS ("binarized_mnist" when none is named), optionally with "tiny" (a few
  steps of a very small model on slices of the dataset's splits; of "mnist" when none is named).

  sizes[dataset]: the model keys for that dataset (the paper's network on binarized_mnist and
  cifar10, smaller ones for the variants that run on a CPU); epochs[dataset]: the budget
  (fractions allowed). The recipe (Adam 1e-3, batch 64, these budgets) is ours, not the papers':
  published NLLs are not comparable with this config's. Datasets: `binarized_mnist` (TFDS),
  `mnist` (the real MNIST 60k/10k, offline, dynamically binarized), `fashion_mnist` (likewise),
  `fashion_mnist8` (8-bit), `cifar10` (TFDS).
  Binary data is dynamically binarized (binarized_mnist is already binary: a no-op)."""
  variants = [v for v in arg.split(",") if v]
  unknown = [v for v in variants if v not in DATASETS and v != "tiny"]
  datasets = [v for v in variants if v in DATASETS]
  if unknown or len(datasets) > 1:
    raise ValueError(f"config {model_name}: bad variant(s) {unknown or datasets} in {arg!r}; "
                     f"expected at most one of {sorted(DATASETS)}, and/or tiny")
  tiny = "tiny" in variants
  dataset = datasets[0] if datasets else ("mnist" if tiny else "binarized_mnist")
  name, train_split, eval_split, head = DATASETS[dataset]
  c = config_lib.base()
  c.update(default_method_config())
  c.model.name = model_name
  c.model.update(sizes[dataset])
  c.head = head
  c.data.update(name=name, train_split=train_split, eval_split=eval_split,
                preprocess=HEADS[head].preprocess)
  c.batch_size = 64
  train_size = {"binarized_mnist": 50_000, "cifar10": 50_000}.get(dataset, 60_000)
  c.num_steps = round(epochs[dataset] * train_size) // c.batch_size
  c.log_every = 100
  c.eval_every = c.sample_every = c.checkpoint_every = min(c.num_steps, 5_000)
  if tiny:
    c.data.train_split = "train[:512]"
    c.data.eval_split = "test[:128]"
    config_lib.tiny_schedule(c, steps=4)
    c.num_samples = 4
    channels = 3 if name == "cifar10" else 1
    c.model.update(features=4 * channels, num_layers=2, out_features=8)
  return c


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
  model = model_file.make(config.model, channels=spec.image_shape[-1],
                          num_outputs=head.num_outputs, num_classes=num_classes)
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
    x = sampler(model, {"params": state.params["model"]}, key, (num, height, width, channels),
                labels, head.draw)
    return head.display(x).astype(jnp.float32)

  return Method(init=init, train_step=train_step, eval_step=eval_step, sample=sample)
