"""The evaluator contract and `from_config`, which builds the evaluators of `config.evals`."""

from typing import Protocol

import ml_collections

from jaxgen.evaluators import likelihood, reconstruction, sample_quality
from jaxgen.run import Run
from jaxgen.types import ConfigError

# config.evals entries: name -> dict(type=<a key of TYPES>, every=..., <the type's options>).
TYPES = {"likelihood": likelihood.Likelihood,
         "sample_quality": sample_quality.SampleQuality,
         "reconstruction": reconstruction.Reconstruction}
WITH_EVAL_EVERY, OFF = 0, -1  # special values of an entry's `every`


class Evaluator(Protocol):
  """One job. `metric_names` are the keys `run` returns (known before any compile, so a bad
  config.best_metric fails at startup); `run` returns (what was compared, for the JSON of
  jaxgen.evaluate; scores, logged as eval/<name> by the trainer)."""

  def metric_names(self) -> list[str]: ...

  def run(self, state) -> tuple[dict, dict[str, float]]: ...


def from_config(run: Run, evals: ml_collections.ConfigDict, *, eval_every: int,
                seed: int) -> dict[str, tuple[int, Evaluator]]:
  """{name: (every, evaluator)} of the active entries of `evals` (config.evals), in order.
  An entry's `every`: steps between runs, WITH_EVAL_EVERY (0) for config.eval_every, OFF (-1)
  for never; every active evaluator also runs at the last step. Two evaluators logging the same
  name is an error."""
  out, owners = {}, {}
  for name, entry in evals.items():
    options = dict(entry)
    kind, every = options.pop("type", None), options.pop("every", WITH_EVAL_EVERY)
    if kind not in TYPES:
      raise ConfigError(f"config.evals.{name}.type={kind!r}; expected one of {', '.join(TYPES)}")
    if every == OFF:
      continue
    if every < OFF:
      raise ConfigError(f"config.evals.{name}.every={every}; expected steps > 0, "
                        f"{WITH_EVAL_EVERY} (with config.eval_every) or {OFF} (off)")
    try:
      evaluator = TYPES[kind](run, seed=seed, **options)
      names = evaluator.metric_names()
    except (TypeError, ValueError) as e:
      raise ConfigError(f"config.evals.{name}: {e}") from None
    for metric in names:
      if metric in owners:
        raise ConfigError(f"config.evals.{name} and config.evals.{owners[metric]} both log "
                          f"eval/{metric}")
      owners[metric] = name
    out[name] = (eval_every if every == WITH_EVAL_EVERY else every, evaluator)
  return out
