"""Trains a jaxgen config.

  python train.py --config configs/vae_fashion_mnist.py --workdir runs/vae_fmnist
  python train.py --config configs/vae_fashion_mnist.py:tiny --config.optimizer.lr=1e-3 --workdir /tmp/t

Re-running with the same workdir resumes from its latest checkpoint. An error in the flags or
the config is one line and exit status 2, a failure one line and status 1 (--debug adds the
traceback): see jaxgen/cli.py.
"""

import json

from absl import app, flags, logging
from ml_collections import config_flags

from jaxgen import cli

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to a config file (path.py[:arg]).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and samples.")
flags.mark_flags_as_required(["config", "workdir"])
cli.define_progress_flag()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  cli.check_writable(FLAGS.workdir, f"--workdir {FLAGS.workdir}")
  from jaxgen import runtime
  runtime.setup(FLAGS.config.distributed)
  from jaxgen import train
  logging.info("config:\n%s", FLAGS.config)
  _, summary = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print(json.dumps({k: summary[k] for k in ("step", "train", "eval")}, indent=1))


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  cli.run(main)
