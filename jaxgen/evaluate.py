"""Evaluates a trained run on a split and writes WORKDIR/eval/metrics_step<N>.json.

  python -m jaxgen.evaluate --workdir DIR [--split test] [--num -1] [--iwae_k 5000] [--step N]

Likelihood metrics come from the method's eval_step (for the VAE: negative ELBO, IWAE bound,
in nats and bits/dim). Sample-quality metrics (FID, KID, ...) arrive with jaxgen.metrics.
"""

import json
import os

from absl import app, flags, logging

from jaxgen import writers

flags.DEFINE_string("workdir", None, "A jaxgen workdir (config.json + checkpoints/).")
flags.DEFINE_string("split", None, "Split to evaluate; default config.data.eval_split.")
flags.DEFINE_integer("num", -1, "Number of examples; -1 = the whole split.")
flags.DEFINE_integer("iwae_k", None, "Override config.eval.iwae_k (importance samples).")
flags.DEFINE_integer("step", None, "Checkpoint step; default the latest.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from jaxgen import config as config_lib, train
  config = config_lib.load_from_workdir(FLAGS.workdir)
  if FLAGS.iwae_k is not None:
    if "iwae_k" not in config.eval:
      raise app.UsageError(f"--iwae_k: method {config.method!r} has no importance-weighted bound")
    config.eval.iwae_k = FLAGS.iwae_k
  run = train.Run(config, FLAGS.workdir)
  state = run.restore(FLAGS.step)
  step = int(state.step)
  split = FLAGS.split or config.data.eval_split
  scores = run.evaluate(state, split, FLAGS.num)
  run.checkpoints.close()
  result = {"step": step, "dataset": config.data.name, "split": split,
            "num_examples": FLAGS.num, "seed": config.seed, "metrics": scores}
  if "iwae_k" in config.eval:
    result["iwae_k"] = config.eval.iwae_k
  out = os.path.join(FLAGS.workdir, "eval", f"metrics_step{step}.json")
  os.makedirs(os.path.dirname(out), exist_ok=True)
  with open(out, "w") as f:
    json.dump(result, f, indent=2)
  for k, v in scores.items():
    print(f"{k:>16s}  {v:.4f}")
  logging.info("wrote %s", out)


if __name__ == "__main__":
  writers.quiet_library_logs()
  app.run(main)
