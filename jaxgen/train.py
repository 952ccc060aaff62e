"""The one state-passing trainer. It knows the Method contract and nothing of any family: the
loop steps, logs, runs the evaluators of config.evals when due, checkpoints and stops.

One jitted step (state donated) gathers its batch on the device, preprocesses it with a key
folded from the step, and calls `method.train_step`. Everything that decides which numbers a
step sees — batch order, binarization noise, the method's noise — is a function of
(config.seed, step), so a run resumed from a checkpoint continues bit-identically.
"""

import logging
import os
import signal
import time

import jax
import ml_collections
import numpy as np

from jaxgen import checkpoint, config as config_lib, evaluators as evaluators_lib, images
from jaxgen import progress, workdir_lock
from jaxgen.data import loader as loader_lib
from jaxgen.methods.base import count_steps
from jaxgen.run import Run
from jaxgen.types import ConfigError


class NonFiniteLossError(FloatingPointError):
  pass



class _StopSignal:
  """SIGINT/SIGTERM ask the loop to checkpoint and stop at the next step boundary."""

  def __init__(self):
    self.requested = None
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGINT, signal.SIGTERM):
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.requested = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def _due(step: int, every: int, last: int) -> bool:
  return step == last or (every > 0 and step % every == 0)


def _best_keeper(run: Run, evaluators, is_main: bool):
  """The keeper of the best checkpoint (None without config.best_metric), checked against the
  evaluators' metric names before the first step."""
  config = run.config
  if not config.best_metric:
    return None
  logged = [f"eval/{m}" for _, e in evaluators.values() for m in e.metric_names()]
  if config.best_metric not in logged:
    raise ConfigError(f"config.best_metric={config.best_metric!r} is not an eval metric of this "
                      f"run; expected one of {', '.join(logged)} (more with config.evals)")
  return checkpoint.Best(run.workdir, config.best_metric, config.best_mode, write=is_main)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  """Trains `config` in `workdir`, resuming from its latest readable checkpoint; returns the
  final state and a summary (last train and eval metrics, the best.json record of
  config.best_metric, step-function compile count). Holds the workdir's lock throughout."""
  config_lib.validate(config, num_devices=jax.device_count())
  with workdir_lock.WorkdirLock(workdir, enabled=jax.process_index() == 0):
    return _train_and_evaluate(config, workdir)


def _train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  run = Run(config, workdir)
  is_main = jax.process_index() == 0
  evaluators = evaluators_lib.from_config(run, config.evals, eval_every=config.eval_every,
                                          seed=config.seed)
  best = _best_keeper(run, evaluators, is_main)
  if is_main:
    config_lib.save(config, workdir)

  train_ds = run.dataset(config.data.train_split)
  loader = loader_lib.make_loader(train_ds.images, train_ds.labels, config.batch_size, run.mesh,
                                  run.keys["data_order"], config.data.on_device)
  pre_key = run.keys["data_preprocess"]
  traces = []
  method_step = count_steps(run.method.train_step)  # the trainer advances step

  def train_step(state, inputs):
    traces.append(None)  # runs once per trace: a retrace would show up in the summary
    raw = loader.select(inputs, state.step)
    batch = run.preprocess(raw, jax.random.fold_in(pre_key, state.step))
    return method_step(state, batch, jax.random.fold_in(run.keys["train"], state.step))

  step_fn = jax.jit(train_step, donate_argnums=0, out_shardings=run.replicated)

  try:
    state = run.restore_or_init()
  except BaseException:  # e.g. no readable checkpoint: nothing to train from
    run.checkpoints.close()
    if best is not None:
      best.close()
    raise
  step = int(jax.device_get(state.step))
  if step:
    logging.info("resuming from the checkpoint at step %d in %s", step, workdir)
  from jaxgen.writers import MetricWriter
  writer = MetricWriter(workdir, enabled=is_main, resume_step=step)
  last = config.num_steps
  pending, summary = [], {"train": {}, "eval": {}}
  t_last, step_last = time.perf_counter(), step

  def flush():
    """Reads the metrics of the steps since the last flush (one host sync) and logs them."""
    nonlocal pending, t_last, step_last
    if not pending:
      return
    steps, values = zip(*pending)
    values = jax.device_get(values)
    pending = []
    for s, m in zip(steps, values):
      if not np.isfinite(m["loss"]):
        latest = run.checkpoints.latest_step()
        kept = f"no checkpoint was saved before it in {workdir}" if latest is None else \
            f"the last good checkpoint (step {latest}) in {workdir} is kept"
        raise NonFiniteLossError(f"non-finite loss ({m['loss']}) at step {s}; the run stopped "
                                 f"at step {step}, and {kept}.")
    means = {f"train/{k}": float(np.mean([m[k] for m in values])) for k in values[0]}
    now = time.perf_counter()
    means["train/images_per_sec"] = (steps[-1] - step_last) * config.batch_size / (now - t_last)
    t_last, step_last = now, steps[-1]
    writer.write_scalars(steps[-1], means)
    summary["train"] = means
    bar.set_postfix(loss=f"{means['train/loss']:.3f}",
                    img_s=f"{means['train/images_per_sec']:.0f}", refresh=False)

  bar = progress.bar(last, "training", unit="step", initial=step, show=is_main)
  try:
    with _StopSignal() as stop:
      while step < last:
        state, metrics = step_fn(state, loader.inputs(step))
        step += 1
        bar.update(1)
        pending.append((step, metrics))
        due = {name: _due(step, every, last) for name, every in (
            ("log", config.log_every), ("sample", config.sample_every),
            ("checkpoint", config.checkpoint_every))}
        due["eval"] = [e for every, e in evaluators.values() if _due(step, every, last)]
        stopping = stop.requested  # read once: a signal between two reads must not skip the save
        due["checkpoint"] |= bool(stopping)
        if any(due.values()):
          flush()  # before a checkpoint too: never save a state whose loss went non-finite
        if due["eval"]:
          scores = {f"eval/{k}": v for e in due["eval"] for k, v in e.run(state)[1].items()}
          summary["eval"].update(scores)
          writer.write_scalars(step, scores)
          if best is not None and config.best_metric in scores:
            best.update(step, scores[config.best_metric], state)
        if due["sample"] and run.method.sample is not None:
          _write_grids(run, state, step, workdir, is_main)
        if due["checkpoint"]:
          run.checkpoints.save(step, state)
        if due["eval"] or due["sample"] or due["checkpoint"]:
          t_last = time.perf_counter()  # images/s counts training only
        if stopping:
          break
      if step < last:
        logging.warning("%s received: checkpoint saved at step %d in %s", stop.requested, step,
                        workdir)
  finally:
    bar.close()
    run.checkpoints.close()
    if best is not None:
      best.close()
    writer.close()
  summary["best"] = best.record if best is not None else None
  summary["compiles"] = len(traces)
  summary["step"] = step
  return state, summary


def _write_grids(run: Run, state, step: int, workdir: str, is_main: bool):
  """Samples (from the config seed's sample stream) and reconstructions of eval images."""
  config = run.config
  samples = run.sample(state, config.seed, config.num_samples)
  if is_main:
    images.save_png(os.path.join(workdir, "samples", f"step_{step:06d}.png"), samples,
                    config=config, step=step, seed=config.seed)
  if run.method.reconstruct is None:
    return
  pairs = run.reconstructions(state, config.num_samples // 2)
  if is_main:
    images.save_png(os.path.join(workdir, "samples", f"recon_step_{step:06d}.png"),
                    pairs, config=config, step=step, seed=config.seed,
                    kind="reconstructions: input, reconstruction")
