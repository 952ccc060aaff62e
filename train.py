"""Trains a jaxgen config.

  python train.py --config configs/vae_fashion_mnist.py --workdir runs/vae_fmnist
  python train.py --config configs/vae_fashion_mnist.py:tiny --config.optimizer.lr=1e-3 --workdir /tmp/t

Re-running with the same workdir resumes from its latest checkpoint.
"""

import json
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from jaxgen import writers

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to a config file (path.py[:arg]).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and samples.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  from jaxgen import runtime
  runtime.setup(FLAGS.config.distributed)
  from jaxgen import train
  logging.info("config:\n%s", FLAGS.config)
  try:
    _, summary = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except train.ERRORS as e:  # one line, not a traceback
    sys.exit(f"error: {e}")
  print(json.dumps({k: summary[k] for k in ("step", "train", "eval")}, indent=1))


if __name__ == "__main__":
  writers.quiet_library_logs()
  logging.set_verbosity(logging.INFO)
  app.run(main)
