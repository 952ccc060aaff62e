"""Exports a trained classifier (configs/classifier_*.py) as the shipped domain feature extractor
that jaxgen.metrics.domain loads: jaxgen/metrics/weights/classifier_<name>.{npz,json}.

  python -m jaxgen.tools.export_classifier --workdir runs/classifier_<name> --name <name>

A tool, not a metric: it restores the run and evaluates it with the likelihood evaluator, which
the metrics must not import.
"""

import json

import jax
import numpy as np
from flax import traverse_util

from jaxgen import config as config_lib, runtime
from jaxgen.evaluators.likelihood import Likelihood
from jaxgen.metrics import domain
from jaxgen.run import Run


def export(workdir: str, name: str, *, step: int | None = None) -> dict:
  """Writes the classifier checkpointed in `workdir` as extractor `name`, with its accuracy
  on the config's eval split; returns the metadata written."""
  config = config_lib.load_from_workdir(workdir)
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


if __name__ == "__main__":
  import argparse
  parser = argparse.ArgumentParser(description=export.__doc__)
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--name", required=True, choices=domain.NAMES)
  parser.add_argument("--step", type=int, default=None)
  args = parser.parse_args()
  runtime.setup()
  result = export(args.workdir, args.name, step=args.step)
  print(json.dumps({k: result[k] for k in ("dataset", "split", "accuracy", "nll", "step")}))
