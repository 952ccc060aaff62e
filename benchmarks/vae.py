"""Likelihood-model figures for the README (VAE, DRAW): quality after the default budget, speed,
trainer overhead.

  python benchmarks/vae.py --workdir runs/vae_fashion_mnist [--config configs/vae_fashion_mnist.py]
  python benchmarks/vae.py --config configs/draw_fashion_mnist.py --workdir runs/draw_fashion_mnist \
      --overhead_steps 0 --out benchmarks/results/draw_fashion_mnist.json

1. Trains the config in --workdir (resuming; skipped when it already finished) and reports
   time per epoch and train images/s over the run (from metrics.jsonl, eval/sample steps
   excluded by taking the median log interval).
2. Test negative ELBO (and the IWAE bound with --iwae_k > 0 importance samples), in nats, on
   the whole eval split. IWAE-5000 over the 10k test images takes about 25 minutes on a
   2-core CPU; the README's figure comes from `python -m jaxgen.evaluate --iwae_k 5000`.
3. Trainer overhead: --overhead_steps steps of the full trainer loop (data selection and
   preprocessing inside the step, metric bookkeeping, progress bar) against the method's bare
   jitted train_step on one fixed, preprocessed on-device batch in a tight loop (skipped with
   --overhead_steps 0).
Writes the results as JSON to --out and prints them.
"""

import importlib.util
import json
import os
import sys
import tempfile
import time

import jax
import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxgen import runtime, train  # noqa: E402
from jaxgen.evaluators.likelihood import Likelihood  # noqa: E402
from jaxgen.run import Run  # noqa: E402

runtime.setup()

flags.DEFINE_string("config", "configs/vae_fashion_mnist.py", "Config file (path.py[:arg]).")
flags.DEFINE_string("workdir", "runs/vae_fashion_mnist", "The run's workdir (trained, or resumed).")
flags.DEFINE_integer("iwae_k", 0, "Importance samples of the IWAE bound; 0: the ELBO only.")
flags.DEFINE_integer("overhead_steps", 2000, "Steps of the trainer-overhead measure; 0: skip it.")
flags.DEFINE_string("out", "benchmarks/results/vae_fashion_mnist.json", "Output JSON.")
FLAGS = flags.FLAGS


def load_config(path):
  path, _, arg = path.partition(":")
  spec = importlib.util.spec_from_file_location("config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def train_speed(workdir, config):
  rows = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  rates = [r["train/images_per_sec"] for r in rows if "train/images_per_sec" in r]
  rate = float(np.median(rates))
  steps_per_epoch = 60_000 // config.batch_size
  return {"train_images_per_sec": rate,
          "seconds_per_epoch": steps_per_epoch * config.batch_size / rate}


def bare_step_rate(run, config, steps):
  """images/s of method.train_step alone, jitted and donated, on a fixed on-device batch."""
  ds = run.dataset(config.data.train_split)
  raw = {"image": jax.numpy.asarray(ds.images[:config.batch_size]),
         "label": jax.numpy.asarray(ds.labels[:config.batch_size])}
  batch = jax.jit(run.preprocess)(raw, jax.random.key(0))
  step = jax.jit(run.method.train_step, donate_argnums=0)
  key = jax.random.key(1)
  state = run.init_state()
  state, _ = step(state, batch, key)  # compile
  jax.block_until_ready(state)
  t = time.perf_counter()
  for _ in range(steps):
    state, _ = step(state, batch, key)
  jax.block_until_ready(state)
  return steps * config.batch_size / (time.perf_counter() - t)


def loop_rate(config, steps):
  """images/s of the full trainer loop: the median over its log intervals after the first
  (which holds the compile), with eval, samples and checkpoints only at the end."""
  with tempfile.TemporaryDirectory() as workdir:
    c = config.copy_and_resolve_references()
    c.num_steps = steps
    c.log_every = 100
    c.eval_every = c.sample_every = c.checkpoint_every = 10**9
    train.train_and_evaluate(c, workdir)
    rows = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  rates = [r["train/images_per_sec"] for r in rows if "train/images_per_sec" in r]
  return float(np.median(rates[1:]))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")

  config = load_config(FLAGS.config)
  t = time.perf_counter()
  _, summary = train.train_and_evaluate(config, FLAGS.workdir)
  results = {"config": FLAGS.config, "steps": summary["step"], "device": str(jax.devices()[0]),
             "train_wall_seconds_this_call": time.perf_counter() - t}
  results.update(train_speed(FLAGS.workdir, config))

  config.eval.iwae_k = FLAGS.iwae_k
  run = Run(config, FLAGS.workdir)
  state = run.restore()
  t = time.perf_counter()
  _, scores = Likelihood(run).run(state)
  results["eval_seconds"] = time.perf_counter() - t
  results.update({f"test_{k}": v for k, v in scores.items()})
  if FLAGS.iwae_k:
    results["iwae_k"] = FLAGS.iwae_k

  if FLAGS.overhead_steps > 0:
    bare = bare_step_rate(run, config, FLAGS.overhead_steps)
    loop = loop_rate(config, FLAGS.overhead_steps)
    results.update({"bare_step_images_per_sec": bare, "trainer_loop_images_per_sec": loop,
                    "trainer_overhead_percent": 100.0 * (bare / loop - 1.0)})
  run.checkpoints.close()

  os.makedirs(os.path.dirname(FLAGS.out), exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump(results, f, indent=2)
  print(json.dumps(results, indent=2))


if __name__ == "__main__":
  app.run(main)
