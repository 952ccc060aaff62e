"""Evaluates a trained run, or a set of images from any codebase, and writes the figures as JSON.

  python -m jaxgen.evaluate --workdir DIR [--metrics nll] [--split test] [--num -1] [--iwae_k K]
      [--extractor domain|inception] [--inception_weights NPZ] [--seed 0] [--step N|best]
  (--inception-weights is the same flag)
  python -m jaxgen.evaluate --images samples.npz|PNG_DIR --dataset fashion_mnist [--split test]
      --metrics fid,kid,pr [--extractor domain|inception] [--pad_to 32]

Metrics (comma-separated):
  nll   the method's own eval metrics on the split (VAE/DRAW: negative ELBO, IWAE bound, nats and
        bits/dim; GAN: discriminator scores)
  fid, kid, is, pr   --num generated samples (default the split's size) against the whole split,
        through --extractor (see jaxgen.metrics.sample_quality); `pr` is precision, recall,
        density and coverage; conditional models also get the class accuracy of their samples
  ssim  SSIM, MS-SSIM and PSNR between eval images and their reconstructions (methods with
        `reconstruct`), data range 1

A run's results go to DIR/eval/metrics_step<N>.json; --out names another file.
"""

import glob
import json
import os
import zipfile

import numpy as np
from absl import app, flags, logging

from jaxgen import cli

FEATURE_METRICS = ("fid", "kid", "is", "pr")
METRICS = ("nll", *FEATURE_METRICS, "ssim")

flags.DEFINE_string("workdir", None, "A jaxgen workdir (config.json + checkpoints/).")
flags.DEFINE_list("metrics", ["nll"], f"Any of {', '.join(METRICS)}.")
flags.DEFINE_string("split", None, "Split to evaluate against; default config.data.eval_split "
                    "(with --images: test).")
flags.DEFINE_integer("num", -1, "Examples (nll, ssim) and generated samples (fid, kid, is, pr); "
                     "-1 = the split's size.")
flags.DEFINE_integer("iwae_k", None, "Override config.eval.iwae_k (importance samples).")
flags.DEFINE_enum("extractor", "domain", ["domain", "inception"], "Features for fid/kid/is/pr: "
                  "the dataset's shipped classifier, or the FID InceptionV3.")
flags.DEFINE_string("inception_weights", None, "FID Inception weights (.npz) for --extractor "
                    "inception; default those `python -m jaxgen.metrics.inception fetch` caches "
                    "(no logits: not for `is`). pytorch-fid's .pth converted with `... convert` "
                    "has the logits.")
flags.DEFINE_alias("inception-weights", "inception_weights")
flags.DEFINE_integer("seed", 0, "Sampling seed for generated images and KID's subsets.")
flags.DEFINE_string("step", None, "Checkpoint step, or `best` (the checkpoint training kept "
                    "for config.best_metric); default the latest.")
flags.DEFINE_string("images", None, "Score these images instead of a run: an .npz with an "
                    "`images` array (uint8, or floats in [0, 1]; NHWC) or a folder of PNGs.")
flags.DEFINE_string("dataset", None, "With --images: the dataset whose split they are compared to.")
flags.DEFINE_integer("pad_to", 0, "With --images: pad the real images with black to this size, "
                     "as the run that made the images did (data.pad_to).")
flags.DEFINE_integer("batch_size", 500, "Batch size of the feature extractor.")
flags.DEFINE_string("cache_dir", None, "Cache of real images' features; default "
                    "~/.cache/jaxgen/reference_features.")
flags.DEFINE_string("out", None, "Output JSON; default DIR/eval/metrics_step<N>.json.")
flags.register_validator("num", lambda n: n == -1 or n > 0, "--num must be -1 or > 0")
cli.define_progress_flag()
FLAGS = flags.FLAGS


def _load_images(path: str) -> np.ndarray:
  """Float NHWC images in [0, 1] from an .npz (`images`) or a folder of PNGs (sorted by name)."""
  if os.path.isdir(path):
    from PIL import Image
    files = sorted(glob.glob(os.path.join(path, "*.png")))
    if not files:
      raise app.UsageError(f"--images {path}: no .png files in the folder")
    arrays = [np.asarray(Image.open(f)) for f in files]
    for f, a in zip(files, arrays):
      if a.shape != arrays[0].shape:
        raise app.UsageError(f"--images {path}: {f} is {_size(a.shape)}, {files[0]} "
                             f"{_size(arrays[0].shape)}")
    images = np.stack(arrays)
  elif path.endswith(".npz"):
    try:
      with np.load(path) as f:
        if "images" not in f:
          raise app.UsageError(f"--images {path}: no `images` array (found {sorted(f.files)})")
        images = f["images"]
    except (ValueError, EOFError, zipfile.BadZipFile) as e:  # a pickle, a truncated zip, ...
      raise ValueError(f"--images {path}: not a readable .npz file") from e
  else:
    raise app.UsageError(f"--images {path}: expected an .npz file or a folder of PNGs")
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise app.UsageError(f"--images {path}: expected images [N, H, W, 1 or 3], got {images.shape}")
  if not len(images):
    raise app.UsageError(f"--images {path}: no images, an array of shape {images.shape}")
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 255.0
  if not np.issubdtype(images.dtype, np.floating):
    raise app.UsageError(f"--images {path}: expected uint8 or float images, got {images.dtype}")
  if not np.isfinite(images).all() or images.min() < 0.0 or images.max() > 1.0:
    raise app.UsageError(f"--images {path}: float images must lie in [0, 1], got "
                         f"[{images.min():.3g}, {images.max():.3g}]")
  return images.astype(np.float32)


def _size(shape) -> str:
  return "x".join(map(str, shape))  # (28, 28, 1) -> 28x28x1


def _batches(images: np.ndarray, size: int):
  for i in range(0, len(images), size):
    yield images[i:i + size]


def _evaluate_images(metrics):
  from jaxgen import data as data_lib
  if not FLAGS.dataset:
    raise app.UsageError("--images needs --dataset (the data to compare with)")
  if set(metrics) - set(FEATURE_METRICS):
    raise app.UsageError(f"--images supports only {', '.join(FEATURE_METRICS)}")
  from jaxgen import runtime
  from jaxgen.metrics import sample_quality
  runtime.setup()
  images = _load_images(FLAGS.images)
  split = FLAGS.split or "test"
  real = data_lib.load(FLAGS.dataset, split)
  shape = real.images.shape[1:]
  if FLAGS.pad_to and len(shape) == 3:
    shape = (FLAGS.pad_to, FLAGS.pad_to, shape[2])
  if images.shape[1:] != shape:
    raise app.UsageError(f"--images {FLAGS.images}: images of {_size(images.shape[1:])}, but "
                         f"those of {FLAGS.dataset} {split} are {_size(shape)}"
                         + (f" padded to --pad_to {FLAGS.pad_to}" if FLAGS.pad_to else ""))
  info, scores = sample_quality.score_images(
      metrics, sample_quality.make_extractor(FLAGS.extractor, dataset=FLAGS.dataset,
                                             inception_weights=FLAGS.inception_weights),
      _batches(images, FLAGS.batch_size), real.images,
      key=f"{FLAGS.dataset}_{split}", pad_to=FLAGS.pad_to, batch_size=FLAGS.batch_size,
      cache_dir=FLAGS.cache_dir or sample_quality.DEFAULT_CACHE, seed=FLAGS.seed,
      num_samples=len(images))
  result = {"images": FLAGS.images, "dataset": FLAGS.dataset, "split": split, **info,
            "metrics": scores}
  out = FLAGS.out or os.path.splitext(FLAGS.images.rstrip("/"))[0] + "_metrics.json"
  return result, out


def _evaluators(run, metrics, split):
  """The evaluators of jaxgen.evaluators that `metrics` name, configured by the flags."""
  from jaxgen.evaluators import likelihood, reconstruction, sample_quality
  out = []
  if "nll" in metrics:
    out.append(likelihood.Likelihood(run, num=FLAGS.num, split=split))
  features = [m for m in metrics if m in FEATURE_METRICS]
  if features:
    out.append(sample_quality.SampleQuality(
        run, metrics=features, num=FLAGS.num, extractor=FLAGS.extractor,
        inception_weights=FLAGS.inception_weights or "", split=split, seed=FLAGS.seed,
        batch_size=FLAGS.batch_size, cache_dir=FLAGS.cache_dir or ""))
  if "ssim" in metrics:
    out.append(reconstruction.Reconstruction(run, num=FLAGS.num, split=split))
  return out


def _evaluate_run(metrics):
  from jaxgen import checkpoint, config as config_lib, runtime
  from jaxgen.run import Run
  with cli.usage_errors():
    which = checkpoint.parse_step(FLAGS.step)
  config = config_lib.load_from_workdir(FLAGS.workdir)
  if FLAGS.iwae_k is not None:
    if "iwae_k" not in config.eval:
      raise app.UsageError(f"--iwae_k: method {config.method!r} has no importance-weighted bound")
    config.eval.iwae_k = FLAGS.iwae_k
  runtime.setup(config.distributed)
  run = Run(config, FLAGS.workdir)
  try:
    split = FLAGS.split or config.data.eval_split
    evaluators = _evaluators(run, metrics, split)  # checked before restoring anything
    state = run.restore(which)
    step = int(state.step)
    result = {"step": step, "dataset": config.data.name, "split": split,
              "num_examples": FLAGS.num, "seed": FLAGS.seed}
    if FLAGS.step == "best":
      result["best"] = checkpoint.read_best(FLAGS.workdir)
    if "nll" in metrics and "iwae_k" in config.eval:
      result["iwae_k"] = config.eval.iwae_k
    scores = {}
    for evaluator in evaluators:
      info, evaluator_scores = evaluator.run(state)
      result.update(info)
      scores.update(evaluator_scores)
  finally:
    run.checkpoints.close()
  result["metrics"] = scores
  out = FLAGS.out or os.path.join(FLAGS.workdir, "eval", f"metrics_step{step}.json")
  return result, out


def main(argv):
  del argv
  metrics = list(dict.fromkeys(FLAGS.metrics))
  unknown = [m for m in metrics if m not in METRICS]
  if unknown:
    raise app.UsageError(f"--metrics: unknown {', '.join(unknown)}; expected any of "
                         f"{', '.join(METRICS)}")
  if bool(FLAGS.workdir) == bool(FLAGS.images):
    raise app.UsageError("give exactly one of --workdir (a run) or --images (files)")
  if FLAGS.out:  # before evaluating, not after
    cli.check_writable(os.path.dirname(os.path.abspath(FLAGS.out)), f"--out {FLAGS.out}")
  result, out = (_evaluate_images if FLAGS.images else _evaluate_run)(metrics)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(out, "w") as f:
    json.dump(result, f, indent=2)
  for k, v in result["metrics"].items():
    print(f"{k:>16s}  {v:.4f}")
  logging.info("wrote %s", out)


if __name__ == "__main__":
  cli.run(main)
