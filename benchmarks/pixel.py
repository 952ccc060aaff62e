"""Pixel-model figures for the README: test NLL after each config's default budget, train
images/s, and seconds to sample 64 images with and without the cached sampler.

  python benchmarks/pixel.py --archs pixelcnn,gated_pixelcnn,row_lstm,diagonal_bilstm,row_rnn \
      --datasets fashion_mnist,mnist --runs runs/pixel --out benchmarks/results/pixel.json

For every (arch, dataset): trains configs/<arch>.py:<dataset> in <runs>/<arch>_<dataset>
(resuming; nothing to do when it already finished), evaluates the exact NLL on the whole eval
split (nats per image and bits/dim), and reads train images/s from metrics.jsonl (the median
log interval, so compiles, evaluations and sample grids are excluded). With --sample_dataset
(default: the first dataset), times `num_samples` samples of the trained model, compile
excluded, through the cached sampler where the model has one and through the uncached
reference sampler (the whole network per subpixel), checks that both give the same images and
saves them as <arch>_<dataset>_samples.png beside --out. Results are merged into --out.
"""

import importlib
import json
import os
import sys
import time

import jax
import numpy as np
from absl import app, flags

# The repository root, for `configs`. Not tests/: its helpers set the tests' XLA flags
# (optimisation off), which would make these timings those of unoptimised code.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxgen import methods, runtime, train  # noqa: E402
from jaxgen.evaluators.likelihood import Likelihood  # noqa: E402
from jaxgen.images import save_png  # noqa: E402
from jaxgen.methods import autoregressive  # noqa: E402
from jaxgen.run import Run  # noqa: E402

runtime.setup()

flags.DEFINE_string("archs", ",".join(sorted(autoregressive.MODELS)), "Pixel models "
                    "(configs/<arch>.py), comma-separated.")
flags.DEFINE_string("datasets", "fashion_mnist,mnist", "Datasets (the configs' variants), "
                    "comma-separated.")
flags.DEFINE_string("sample_dataset", None, "The dataset whose models are timed sampling; "
                    "default the first of --datasets.")
flags.DEFINE_integer("num_samples", 64, "Samples to time.")
flags.DEFINE_string("runs", "runs/pixel", "Folder of the runs' workdirs.")
flags.DEFINE_string("out", "benchmarks/results/pixel.json", "Output JSON (merged into).")
FLAGS = flags.FLAGS


def train_rate(workdir):
  rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  return float(np.median([r["train/images_per_sec"] for r in rows
                          if "train/images_per_sec" in r]))


def timed_samples(run, state, num, cached):
  """(seconds, images) for `num` samples, timed after a compile on another key."""
  config = run.config.copy_and_resolve_references()
  config.cached_sampling = cached
  method = methods.get(config, run.spec)
  sample = jax.jit(method.sample, static_argnums=2)
  jax.block_until_ready(sample(state, jax.random.key(0), num))
  start = time.perf_counter()
  images = jax.block_until_ready(sample(state, jax.random.key(1), num))
  return time.perf_counter() - start, np.asarray(images)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  datasets = FLAGS.datasets.split(",")
  sample_dataset = FLAGS.sample_dataset or datasets[0]
  results = json.load(open(FLAGS.out)) if os.path.exists(FLAGS.out) else {}
  for arch in FLAGS.archs.split(","):
    for dataset in datasets:
      config = importlib.import_module(f"configs.{arch}").get_config(dataset)
      workdir = os.path.join(FLAGS.runs, f"{arch}_{dataset}")
      start = time.perf_counter()
      state, _ = train.train_and_evaluate(config, workdir)
      run = Run(config, workdir)
      _, scores = Likelihood(run).run(state)
      row = {"config": f"configs/{arch}.py:{dataset}", "steps": int(state.step),
             "epochs": int(state.step) * config.batch_size / len(
                 run.dataset(config.data.train_split).images),
             "test_nll_nats": scores["nll"], "test_bpd": scores["bpd"],
             "train_images_per_sec": train_rate(workdir),
             "wall_seconds_this_call": time.perf_counter() - start}
      if dataset == sample_dataset:
        has_cache = hasattr(autoregressive.get_model_file(config.model.name), "sample_cached")
        row["sample_seconds_uncached"], images = timed_samples(run, state, FLAGS.num_samples, False)
        if has_cache:
          row["sample_seconds_cached"], cached = timed_samples(run, state, FLAGS.num_samples, True)
          row["cached_equals_uncached"] = bool(np.array_equal(images, cached))
        row["num_samples"] = FLAGS.num_samples
        png = os.path.join(os.path.dirname(FLAGS.out) or ".", f"{arch}_{dataset}_samples.png")
        save_png(png, images, config=config, step=int(state.step), seed=1)
      run.checkpoints.close()
      results[f"{arch}/{dataset}"] = row
      print(json.dumps({f"{arch}/{dataset}": row}), flush=True)
      os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
      with open(FLAGS.out, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)


if __name__ == "__main__":
  app.run(main)
