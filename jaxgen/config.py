"""The keys every run has, declared once; configs/ start from `base()` and add their own.

Declaring every key here (no scattered `config.get(key, default)`) is what makes a typo'd
`--config.some_key=...` an error."""

import json
import os

import ml_collections

from jaxgen import optim


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
