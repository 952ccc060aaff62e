"""The keys every run has, declared once; configs/ start from `base()` and add their own.

Declaring every key here (no scattered `config.get(key, default)`) is what makes a typo'd
`--config.some_key=...` an error."""

import json
import numbers
import os

import ml_collections

from jaxgen import optim
from jaxgen import data as data_lib
from jaxgen.data import sources
from jaxgen.types import ConfigError


def base() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.method = "vae"                # a key of jaxgen.methods.METHODS or "module:make"
  c.batch_size = 128              # global batch, split over all devices of all processes
  c.num_steps = 10_000
  c.log_every = 100               # metrics are read from the device only this often
  c.eval_every = 2_000
  c.sample_every = 2_000
  c.checkpoint_every = 2_000
  c.keep_checkpoints = 3
  c.num_samples = 64              # images in each sample grid
  c.best_metric = ""              # e.g. "eval/neg_elbo", "eval/fid": any scalar an evaluator
                                  # logs under eval/; keeps its best state in checkpoints_best/
  c.best_mode = "min"             # "min" | "max": which way best_metric improves

  c.data = ml_collections.ConfigDict(dict(
      name="fashion_mnist",
      data_dir="",                # TFDS data_dir; "" = TFDS's default
      download=False,             # let TFDS download what is not prepared
      train_split="train",
      eval_split="test",
      preprocess="binarize",      # see jaxgen.data.preprocess.MODES
      pad_to=0,                   # e.g. 32 to pad 28x28 images; 0 = keep the size
      on_device="auto",           # "auto" | "yes" | "no" (stream through tf.data)
  ))
  c.optimizer = optim.default_config()
  c.eval = ml_collections.ConfigDict(dict(
      batch_size=500,             # eval examples (and generated samples) per batch
      cache_dir="",               # real images' features; "" = ~/.cache/jaxgen/reference_features
  ))
  # Evaluators (jaxgen.evaluators), logged as eval/<score>. `every`: steps between runs, 0 =
  # with eval_every, -1 = off; each active one also runs at the last step. `num`: examples or
  # samples, -1 = the whole split. jaxgen.evaluate runs the same types.
  c.evals = ml_collections.ConfigDict(dict(
      # the method's eval metrics (negative ELBO, NLL, bits/dim, accuracy, D scores)
      likelihood=dict(type="likelihood", every=0, num=-1),
      # generated samples against config.data.eval_split: any of fid, kid, is, pr
      samples=dict(type="sample_quality", every=-1, num=2_000, metrics="fid",
                   extractor="domain",      # "domain" | "inception"
                   inception_weights=""),   # converted FID Inception weights (.npz); "" = fetched
      # SSIM, MS-SSIM, PSNR of eval images and their reconstructions (VAE, DRAW)
      reconstructions=dict(type="reconstruction", every=-1, num=2_000),
  ))
  c.distributed = ml_collections.ConfigDict(dict(
      mode="auto",                # "auto" | "on" | "off"
      coordinator_address="",
      num_processes=-1,
      process_id=-1,
      cpu_collectives="",         # "gloo" for multi-process runs on CPU
  ))
  return c


def tiny_schedule(c: ml_collections.ConfigDict, *, steps: int = 20) -> ml_collections.ConfigDict:
  """The trainer side of a `tiny` variant: a few steps that still log, evaluate, sample and
  checkpoint (twice), in seconds on a CPU. Configs shrink their model and data themselves."""
  c.batch_size = 64
  c.num_steps = steps
  c.log_every = max(1, steps // 4)
  c.eval_every = c.sample_every = c.checkpoint_every = max(1, steps // 2)
  c.eval.batch_size = 128
  c.num_samples = 16
  return c


def validate(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  """Checks the trainer's keys before anything is built or compiled: a ConfigError naming the
  first bad key, its value and what was expected. Keys are checked by name wherever they are
  (a method's own optimizer too): every `batch_size` / `*_batch_size` a positive integer (the
  training batch also a multiple of `num_devices`, the devices it is split over), every
  `*_every` an integer >= 0, every `lr` and `lr_values` positive, every `*_split` a non-empty
  string; num_steps >= 0; a dataset, preprocessing and best_mode the code knows; data.pad_to >=
  0 (against the image size: `validate_image_size`); each config.evals entry's `num` -1 or > 0
  (their `type` and `every`: jaxgen.evaluators.from_config)."""
  for key, value in _leaves(config):
    name = key.rpartition(".")[2]
    if key == "batch_size":
      _expect(_is_int(value) and value > 0 and value % num_devices == 0, key, value,
              f"a positive multiple of the device count ({num_devices})")
    elif name == "batch_size" or name.endswith("_batch_size"):
      _expect(_is_int(value) and value > 0, key, value, "a positive integer")
    elif name.endswith("_every"):
      _expect(_is_int(value) and value >= 0, key, value,
              "an integer >= 0 (steps between two; 0: at the last step only)")
    elif name == "lr":
      _expect(_is_number(value) and value > 0, key, value, "a learning rate > 0")
    elif name == "lr_values":
      _expect(all(_is_number(v) and v > 0 for v in value), key, value, "learning rates > 0")
    elif name.endswith("_split"):
      _expect(isinstance(value, str) and value.strip(), key, value,
              "a non-empty split name, e.g. 'train' or 'test[:1000]'")
  _expect(_is_int(config.num_steps) and config.num_steps >= 0, "num_steps", config.num_steps,
          "an integer >= 0")
  data = config.data
  try:
    sources.check_name(data.name)
  except ConfigError as e:
    raise ConfigError(f"config.data.name: {e}") from None
  _expect(data.preprocess in data_lib.MODES, "data.preprocess", data.preprocess,
          f"one of {', '.join(data_lib.MODES)}")
  _expect(_is_int(data.pad_to) and data.pad_to >= 0, "data.pad_to", data.pad_to,
          "0 (no padding) or an image size")
  _expect(config.best_mode in ("min", "max"), "best_mode", config.best_mode, "'min' or 'max'")
  for name, entry in config.evals.items():
    if "num" in entry:
      _expect(_is_int(entry.num) and (entry.num == -1 or entry.num > 0), f"evals.{name}.num",
              entry.num, "-1 (the whole split) or a positive number")


def validate_image_size(config: ml_collections.ConfigDict, image_shape: tuple[int, ...]) -> None:
  """data.pad_to against the data's image shape (H, W, C): 0, or no smaller than the images."""
  pad = config.data.pad_to
  if not pad:
    return
  _expect(len(image_shape) == 3, "data.pad_to", pad,
          f"0: {config.data.name} holds points of shape {image_shape}, not images")
  height, width = image_shape[:2]
  _expect(pad >= max(height, width), "data.pad_to", pad,
          f"0 or a size no smaller than the {height}x{width} images of {config.data.name}")


def _leaves(c: ml_collections.ConfigDict, prefix: str = ""):
  for key, value in c.items():
    if isinstance(value, ml_collections.ConfigDict):
      yield from _leaves(value, f"{prefix}{key}.")
    else:
      yield prefix + key, value


def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _expect(ok, key: str, value, expected: str) -> None:
  if not ok:
    raise ConfigError(f"config.{key}={value!r}; expected {expected}")


def save(config: ml_collections.ConfigDict, workdir: str) -> None:
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json(indent=2, sort_keys=True))


def load_from_workdir(workdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no config.json; is {workdir!r} a jaxgen workdir?")
  with open(path) as f:
    return _tuples(ml_collections.ConfigDict(json.load(f)))


def _tuples(c):
  """JSON turns tuples into lists; configs declare tuples (e.g. layer sizes)."""
  for k, v in c.items():
    if isinstance(v, list):
      c[k] = tuple(v)
    elif isinstance(v, ml_collections.ConfigDict):
      _tuples(v)
  return c
