"""Metrics to `metrics.jsonl` and TensorBoard events in the workdir; silent off process 0."""

import json
import logging
import os

import numpy as np


class MetricWriter:

  def __init__(self, workdir: str, *, enabled: bool = True):
    self._enabled = enabled
    if not enabled:
      return
    from tensorboardX import SummaryWriter
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")
    self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def write_scalars(self, step: int, scalars: dict[str, float]):
    if not self._enabled:
      return
    scalars = {k: float(np.asarray(v)) for k, v in scalars.items()}
    self._jsonl.write(json.dumps({"step": step, **scalars}) + "\n")
    self._jsonl.flush()
    for k, v in scalars.items():
      self._tb.add_scalar(k, v, step)
    self._tb.flush()

  def close(self):
    if self._enabled:
      self._jsonl.close()
      self._tb.close()


class _LibraryInfoFilter(logging.Filter):
  """Drops INFO and DEBUG records of chatty libraries (orbax logs every step of a save)."""

  def filter(self, record):
    return record.levelno >= logging.WARNING or "/orbax/" not in record.pathname


def quiet_library_logs() -> None:
  """For the command-line tools: keep jaxgen's INFO lines, drop orbax's."""
  from absl import logging as absl_logging
  absl_logging.get_absl_handler().addFilter(_LibraryInfoFilter())
