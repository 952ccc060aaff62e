"""Writes samples of a trained run: the same checkpoint and seed give the same pixels.

  python -m jaxgen.sample --workdir DIR --num 64 --seed 0 --out samples.png [--npz] [--step N]
"""

import os

import numpy as np
from absl import app, flags, logging

from jaxgen import writers

flags.DEFINE_string("workdir", None, "A jaxgen workdir (config.json + checkpoints/).")
flags.DEFINE_integer("num", 64, "Number of images.")
flags.DEFINE_integer("seed", 0, "Sampling seed.")
flags.DEFINE_string("out", None, "Output PNG (a grid); default WORKDIR/samples/sample_seed<S>.png.")
flags.DEFINE_bool("npz", False, "Also write the raw float images in [0, 1] next to --out (.npz).")
flags.DEFINE_integer("step", None, "Checkpoint step; default the latest.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from jaxgen import config as config_lib, images, train
  config = config_lib.load_from_workdir(FLAGS.workdir)
  run = train.Run(config, FLAGS.workdir)
  state = run.restore(FLAGS.step)
  step = int(state.step)
  samples = run.sample(state, FLAGS.seed, FLAGS.num)
  out = FLAGS.out or os.path.join(FLAGS.workdir, "samples", f"sample_seed{FLAGS.seed}.png")
  images.save_png(out, samples, config=config, step=step, seed=FLAGS.seed)
  if FLAGS.npz:
    np.savez(os.path.splitext(out)[0] + ".npz", images=samples, step=step, seed=FLAGS.seed)
  run.checkpoints.close()
  logging.info("wrote %d samples of step %d to %s", FLAGS.num, step, out)


if __name__ == "__main__":
  writers.quiet_library_logs()
  app.run(main)
