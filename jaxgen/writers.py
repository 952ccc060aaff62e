"""Metrics to `metrics.jsonl` and TensorBoard events in the workdir; silent off process 0."""

import json
import logging
import os

import numpy as np


class MetricWriter:
  """`resume_step`: the step training resumes from. Records of later steps, written before a
  crash or a fallback past an unreadable checkpoint, are dropped from metrics.jsonl and purged
  from TensorBoard's view: the resumed run writes them again, so each step is logged once."""

  def __init__(self, workdir: str, *, enabled: bool = True, resume_step: int = 0):
    self._enabled = enabled
    if not enabled:
      return
    from tensorboardX import SummaryWriter
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "metrics.jsonl")
    _drop_records_after(path, resume_step)
    self._jsonl = open(path, "a")
    self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"), purge_step=resume_step + 1)

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


def _drop_records_after(path: str, step: int) -> None:
  """Rewrites a metrics.jsonl (atomically) without the records of steps after `step`, nor a
  torn last line of a killed writer; leaves it alone when there is nothing to drop."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    lines = f.readlines()
  kept = []
  for line in lines:
    try:
      if json.loads(line)["step"] <= step:
        kept.append(line if line.endswith("\n") else line + "\n")
    except (ValueError, KeyError, TypeError):
      pass
  if len(kept) == len(lines) and all(l.endswith("\n") for l in lines):
    return
  with open(path + ".tmp", "w") as f:
    f.writelines(kept)
  os.replace(path + ".tmp", path)
  logging.info("%s: dropped %d records after step %d, where training resumes", path,
               len(lines) - len(kept), step)
