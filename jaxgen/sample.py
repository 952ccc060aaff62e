"""Writes samples of a trained run: the same checkpoint and seed give the same pixels.

  python -m jaxgen.sample --workdir DIR [--num 64] [--seed 0] [--out FILE.png] [--npz]
      [--step N|best]
  python -m jaxgen.sample --workdir DIR --labels 0,1,2      # one image per listed class
  python -m jaxgen.sample --workdir DIR --per_class 8       # 8 of each class, a row per class
  python -m jaxgen.sample --workdir DIR --interpolate 8 --steps 10 [--labels ...]
  python -m jaxgen.sample --workdir DIR --sequence [--num 16]   # DRAW: GIF + strip of canvases
"""

import os

import numpy as np
from absl import app, flags, logging

from jaxgen import cli

flags.DEFINE_string("workdir", None, "A jaxgen workdir (config.json + checkpoints/).")
flags.DEFINE_integer("num", 64, "Number of images (without --labels / --per_class).")
flags.DEFINE_integer("seed", 0, "Sampling seed.")
flags.DEFINE_string("out", None, "Output PNG (a grid); default WORKDIR/samples/<kind>_seed<S>.png.")
flags.DEFINE_bool("npz", False, "Also write the raw float images in [0, 1] (and their labels) "
                  "next to --out (.npz).")
flags.DEFINE_string("step", None, "Checkpoint step, or `best` (the checkpoint training kept "
                    "for config.best_metric); default the latest.")
flags.DEFINE_list("labels", None, "Class of each image, e.g. 0,1,2 (conditional models); with "
                  "--interpolate, the class of each row.")
flags.DEFINE_integer("per_class", None, "Images per class: a grid with one row per class.")
flags.DEFINE_alias("per-class", "per_class")
flags.DEFINE_integer("interpolate", None, "Write a latent interpolation grid with this many rows "
                     "(slerp between two prior draws per row).")
flags.DEFINE_integer("steps", 10, "Points per interpolation row, endpoints included.")
flags.DEFINE_bool("sequence", False, "Sequential samplers (DRAW): write every step's canvases as "
                  "an animated GIF (a grid per step) and a PNG strip (a row per image, a column "
                  "per step).")
flags.mark_flag_as_required("workdir")
cli.define_progress_flag()
flags.register_validator("per_class", lambda n: n is None or n > 0, "--per_class must be > 0")
flags.register_validator("interpolate", lambda n: n is None or n > 0, "--interpolate must be > 0")
flags.register_validator("steps", lambda n: n >= 2, "--steps must be >= 2")
flags.register_validator("num", lambda n: n > 0, "--num must be > 0")
FLAGS = flags.FLAGS


def _parse_labels(values):
  if values is None:
    return None
  try:
    return [int(v) for v in values]
  except ValueError:
    raise app.UsageError(f"--labels takes comma-separated class indices, got {','.join(values)!r}")


def main(argv):
  del argv
  from jaxgen import checkpoint, config as config_lib, images, runtime
  from jaxgen.run import Run
  labels = _parse_labels(FLAGS.labels)
  if FLAGS.per_class is not None and (labels is not None or FLAGS.interpolate is not None):
    raise app.UsageError("--per_class cannot be combined with --labels or --interpolate")
  if FLAGS.interpolate is not None and labels is not None and len(labels) != FLAGS.interpolate:
    raise app.UsageError(f"--labels gives {len(labels)} classes for {FLAGS.interpolate} "
                         "interpolation rows; give one per row")
  if FLAGS.sequence and (labels is not None or FLAGS.per_class or FLAGS.interpolate):
    raise app.UsageError("--sequence cannot be combined with --labels, --per_class or --interpolate")
  with cli.usage_errors():
    which = checkpoint.parse_step(FLAGS.step)
  if FLAGS.out:  # before sampling, not after
    cli.check_writable(os.path.dirname(os.path.abspath(FLAGS.out)), f"--out {FLAGS.out}")
  config = config_lib.load_from_workdir(FLAGS.workdir)
  runtime.setup(config.distributed)
  run = Run(config, FLAGS.workdir)
  try:
    state = run.restore(which)
    step = int(state.step)
    ncol = None
    if FLAGS.sequence:
      kind = "sequence"
      frames = run.sample_sequence(state, FLAGS.seed, FLAGS.num)  # [T, num, H, W, C]
      ncol = len(frames)
      out_images = frames.swapaxes(0, 1).reshape(-1, *frames.shape[2:])  # row per image
    elif FLAGS.interpolate is not None:
      kind, ncol = "interpolation", FLAGS.steps
      out_images = run.interpolate(state, FLAGS.seed, FLAGS.interpolate, FLAGS.steps, labels)
      if labels is not None:
        labels = np.repeat(labels, FLAGS.steps)
    else:
      kind = "samples"
      if FLAGS.per_class is not None:
        labels = np.repeat(np.arange(run.spec.num_classes), FLAGS.per_class)
        kind, ncol = "per_class", FLAGS.per_class
      num = FLAGS.num if labels is None else len(labels)
      # One computation (its pixels depend on --num, so it is not split into batches): a line,
      # not a progress bar.
      logging.info("sampling %d images of step %d in one computation", num, step)
      out_images = run.sample(state, FLAGS.seed, num, labels)
  except ValueError as e:  # a label, or a kind of sample, that the run does not have
    raise app.UsageError(str(e)) from e
  finally:
    run.checkpoints.close()
  out = FLAGS.out or os.path.join(FLAGS.workdir, "samples",
                                  f"{'sample' if kind == 'samples' else kind}_seed{FLAGS.seed}.png")
  images.save_png(out, out_images, config=config, step=step, seed=FLAGS.seed, kind=kind, ncol=ncol)
  if FLAGS.sequence:
    images.save_gif(os.path.splitext(out)[0] + ".gif", frames, config=config, step=step,
                    seed=FLAGS.seed)
  if FLAGS.npz:
    extra = {} if labels is None else {"labels": np.asarray(labels, np.int32)}
    if FLAGS.sequence:
      extra["frames"] = frames
    np.savez(os.path.splitext(out)[0] + ".npz", images=out_images, step=step, seed=FLAGS.seed,
             **extra)
  logging.info("wrote %d images (%s) of step %d to %s", len(out_images), kind, step, out)


if __name__ == "__main__":
  cli.run(main)
