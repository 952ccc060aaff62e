"""Exports a trained classifier (configs/classifier_*.py) as the shipped domain feature extractor
that jaxgen.metrics.domain loads: jaxgen/metrics/weights/classifier_<name>.{npz,json}.

  python -m jaxgen.tools.export_classifier --workdir runs/classifier_<name> --name <name>

A tool, not a metric: it restores the run and evaluates it with the likelihood evaluator, which
the metrics must not import.
"""

import json

import jax
import numpy as np
from absl import app, flags
from flax import traverse_util

from jaxgen import config as config_lib, runtime
from jaxgen.evaluators.likelihood import Likelihood
from jaxgen.metrics import domain
from jaxgen.run import Run
from jaxgen.types import ConfigError

FLAGS = flags.FLAGS


def export(workdir: str, name: str, *, step: int | None = None) -> dict:
  """Writes the classifier checkpointed in `workdir` as extractor `name`, with its accuracy
  on the config's eval split; returns the metadata written."""
  config = config_lib.load_from_workdir(workdir)
  if config.method != "classifier":
    raise ConfigError(f"{workdir}: a {config.method} run, not a classifier "
                      "(configs/classifier_*.py)")
  run = Run(config, workdir)
  state = run.restore(step)
  run.checkpoints.close()
  _, scores = Likelihood(run).run(state)
  variables = {"params": state.params["classifier"], **state.collections}
  flat = traverse_util.flatten_dict(jax.device_get(variables), sep="/")
  meta = dict(
      dataset=config.data.name, train_split=config.data.train_split,
      split=config.data.eval_split, accuracy=scores["accuracy"], nll=scores["nll"],
      step=int(state.step), image_shape=list(run.spec.image_shape),
      num_classes=run.spec.num_classes, preprocess=config.data.preprocess,
      model=config.model.to_dict(), config=json.loads(config.to_json()))
  weights, meta_path = domain.weight_paths(name)
  np.savez(weights, **{k: np.asarray(v) for k, v in flat.items()})
  with open(meta_path, "w") as f:
    json.dump(meta, f, indent=1, sort_keys=True)
  return meta


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  runtime.setup()
  result = export(FLAGS.workdir, FLAGS.name, step=FLAGS.step)
  print(json.dumps({k: result[k] for k in ("dataset", "split", "accuracy", "nll", "step")}))


def _define_flags():
  """The command line's flags: defined when it runs, so that importing `export` adds none."""
  flags.DEFINE_string("workdir", None, "A trained classifier's workdir (configs/classifier_*.py).",
                      required=True)
  flags.DEFINE_enum("name", None, domain.NAMES, "The extractor to write: "
                    "jaxgen/metrics/weights/classifier_<name>.{npz,json}.", required=True)
  flags.DEFINE_integer("step", None, "Checkpoint step; default the latest.")


if __name__ == "__main__":
  from jaxgen import cli
  _define_flags()
  cli.run(main)
