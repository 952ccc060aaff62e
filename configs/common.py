"""What the configs share: one parser for a config's argument, the `tiny` variant's trainer
side, and the recipes several configs start from (DCGAN; the pixel models).

A config file is `get_config(arg)`, where `arg` is what follows the colon of
`--config configs/<name>.py:<arg>`: comma-separated words, each a flag or a value of one
choice (`tiny,ema`; `fashion_mnist,wgan_gp`; `dataset=mnist` names the choice explicitly).
Configs import this module as `from configs import common` (train.py and the tests run with
the repository root on sys.path).
"""

from typing import Any

import ml_collections

from jaxgen import config as config_lib
from jaxgen.methods import autoregressive, gan


def parse_arg(arg: str, config_name: str, **spec: Any) -> ml_collections.ConfigDict:
  """`arg` -> one entry per `spec` key, in the spirit of big_vision's configs/common.py.

  A spec value False declares a flag, True when its name is a word of `arg`. A tuple declares
  a choice: a word that is one of its members (or `key=member`) sets it, at most once; its
  first member is the default (None: nothing named, for configs whose default depends on
  other words). Unknown words, unknown keys and a choice set twice fail, naming the config and
  everything it takes."""
  out = {key: (value[0] if isinstance(value, tuple) else False) for key, value in spec.items()}
  named = set()

  def fail(why):
    takes = [key if value is False else f"{key} ({', '.join(map(str, filter(None, value)))})"
             for key, value in spec.items()]
    raise ValueError(f"config {config_name}: {why} in {arg!r}; it takes, comma-separated: "
                     f"{'; '.join(takes)}")

  for word in filter(None, (w.strip() for w in arg.split(","))):
    key, explicit, value = word.partition("=")
    if explicit:
      if not isinstance(spec.get(key), tuple) or value not in spec[key]:
        fail(f"unknown choice {word!r}")
    elif spec.get(word) is False:
      key, value = word, True
    else:
      keys = [k for k, v in spec.items() if isinstance(v, tuple) and word in v]
      if not keys:
        fail(f"unknown word {word!r}")
      key, value = keys[0], word
    if key in named:
      fail(f"{key} given twice")
    named.add(key)
    out[key] = value
  return ml_collections.ConfigDict(out)


def tiny(c: ml_collections.ConfigDict, *, train: str, eval: str,  # noqa: A002 (split names)
         steps: int = 20) -> ml_collections.ConfigDict:
  """The `tiny` variant's data and trainer side: slices of the splits and a few steps that
  still log, evaluate, sample and checkpoint (jaxgen.config.tiny_schedule); each config
  shrinks its model itself."""
  c.data.train_split, c.data.eval_split = train, eval
  return config_lib.tiny_schedule(c, steps=steps)


def dcgan(dataset: str, *, pad_to: int = 0) -> ml_collections.ConfigDict:
  """A whole run config for the DCGAN reference recipe (Radford et al. 2016) on `dataset`:
  DCGAN G and D (base width 64, z of 100 dimensions, batch norm in both, the paper's
  N(0, 0.02) initialization), data in [-1, 1] for the tanh output, the non-saturating loss,
  Adam 2e-4 with β1 = 0.5 for both players, batch 64. The DCGAN-family configs start here and
  change what their paper changes (and set num_steps)."""
  c = config_lib.base()
  c.update(gan.default_method_config("dcgan"))
  c.data.name = dataset
  c.data.preprocess = "scale11"
  c.data.pad_to = pad_to
  c.model.update(latent_dim=100, base_width=64)
  c.loss = "non_saturating"
  c.batch_size = 64
  c.log_every = 200
  c.eval_every = c.sample_every = c.checkpoint_every = 2_000
  return c


def tiny_gan(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The model side of a GAN config's `tiny` variant: networks that compile and run in
  seconds on a CPU."""
  c.model.latent_dim = 16
  c.model.base_width = 8
  return c


def tiny_draw(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The model side of a DRAW config's `tiny` variant (and a cheap IWAE bound)."""
  c.model.update(steps=3, hidden=16, latent_dim=4)
  if "read_n" in c.model:  # attention
    c.model.update(read_n=2, write_n=3)
  c.eval.update(iwae_k=8, iwae_chunk=4)
  return c


# Datasets of `pixel`: (data.name, train split, eval split, head).
PIXEL_DATASETS = {
    "binarized_mnist": ("binarized_mnist", "train", "test", "bernoulli"),
    "mnist": ("mnist", "train", "test", "bernoulli"),
    "fashion_mnist": ("fashion_mnist", "train", "test", "bernoulli"),
    "fashion_mnist8": ("fashion_mnist", "train", "test", "softmax256"),
    "cifar10": ("cifar10", "train", "test", "softmax256"),
}


def pixel(model_name: str, arg: str, *, sizes: dict[str, dict],
          epochs: dict[str, float]) -> ml_collections.ConfigDict:
  """A whole run config for pixel model `model_name` (a key of
  jaxgen.methods.autoregressive.MODELS) from its config file's argument: one dataset of
  PIXEL_DATASETS ("binarized_mnist" when none is named), optionally with "tiny" (a few steps
  of a very small model on slices of the dataset's splits; of "mnist" when none is named).

  sizes[dataset]: the model keys for that dataset (the paper's network on binarized_mnist and
  cifar10, smaller ones for the variants that run on a CPU); epochs[dataset]: the budget
  (fractions allowed). The recipe (Adam 1e-3, batch 64, these budgets) is ours, not the
  papers': published NLLs are not comparable with this config's. Datasets: `binarized_mnist`
  (TFDS), `mnist` (the real MNIST 60k/10k, offline, dynamically binarized), `fashion_mnist`
  (likewise), `fashion_mnist8` (8-bit), `cifar10` (TFDS). Binary data is dynamically
  binarized (binarized_mnist is already binary: a no-op)."""
  arg = parse_arg(arg, model_name, dataset=(None, *PIXEL_DATASETS), tiny=False)
  dataset = arg.dataset or ("mnist" if arg.tiny else "binarized_mnist")
  name, train_split, eval_split, head = PIXEL_DATASETS[dataset]
  c = config_lib.base()
  c.update(autoregressive.default_method_config(model_name))
  c.model.update(sizes[dataset])
  c.head = head
  c.data.update(name=name, train_split=train_split, eval_split=eval_split,
                preprocess=autoregressive.HEADS[head].preprocess)
  c.batch_size = 64
  train_size = {"binarized_mnist": 50_000, "cifar10": 50_000}.get(dataset, 60_000)
  c.num_steps = round(epochs[dataset] * train_size) // c.batch_size
  c.log_every = 100
  c.eval_every = c.sample_every = c.checkpoint_every = min(c.num_steps, 5_000)
  if arg.tiny:
    tiny(c, train="train[:512]", eval="test[:128]", steps=4)
    c.num_samples = 4
    channels = 3 if name == "cifar10" else 1
    c.model.update({k: v for k, v in dict(features=4 * channels, num_layers=2,
                                          out_features=8).items() if k in c.model})
  return c
