"""orbax checkpoints of the TrainState: periodic, at the end and on a signal; keep the last k.
Beside them, `Best` keeps the one state with the best value of a chosen eval metric."""

import json
import math
import os

import jax
import orbax.checkpoint as ocp

BEST_DIR = "checkpoints_best"


class Checkpoints:

  def __init__(self, workdir: str, *, keep: int, name: str = "checkpoints"):
    self.directory = os.path.abspath(os.path.join(workdir, name))
    self._manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state) -> None:
    self._manager.save(step, args=ocp.args.StandardSave(state), force=True)

  def restore(self, abstract_state, step: int | None = None):
    """abstract_state: ShapeDtypeStructs with shardings (see `abstract`)."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"no checkpoint in {self._manager.directory}")
    return self._manager.restore(step, args=ocp.args.StandardRestore(abstract_state))

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


class Best:
  """WORKDIR/checkpoints_best: the state with the best finite value of `metric` so far (one
  checkpoint), and best.json (metric, mode, value, step) beside it, which a resumed run reads
  so that it only ever replaces the stored best with a better one."""

  def __init__(self, workdir: str, metric: str, mode: str, *, write: bool = True):
    if mode not in ("min", "max"):
      raise ValueError(f"config.best_mode={mode!r}; expected min or max")
    self.metric, self.mode, self._write = metric, mode, write
    self.record = read_best(workdir)
    if self.record and (self.record["metric"], self.record["mode"]) != (metric, mode):
      raise ValueError(
          f"{workdir}/{BEST_DIR} keeps the best {self.record['metric']} ({self.record['mode']}), "
          f"but config.best_metric={metric!r} (best_mode={mode!r}); move that directory away or "
          "keep the metric it was made for")
    self._checkpoints = Checkpoints(workdir, keep=1, name=BEST_DIR)

  def update(self, step: int, value: float, state) -> bool:
    """Saves `state` as the best if `value` is finite and strictly better than the stored best
    (a tie keeps the earlier step); True if it did."""
    value = float(value)  # numpy scalars too: best.json holds a plain number
    if not math.isfinite(value):
      return False
    if self.record is not None and not (value < self.record["value"] if self.mode == "min"
                                        else value > self.record["value"]):
      return False
    self._checkpoints.save(step, state)
    self._checkpoints.wait()  # best.json never names a checkpoint that is not on disk
    self.record = {"metric": self.metric, "mode": self.mode, "value": value, "step": step}
    if self._write:
      path = os.path.join(self._checkpoints.directory, "best.json")
      with open(path + ".tmp", "w") as f:
        json.dump(self.record, f, indent=2)
      os.replace(path + ".tmp", path)
    return True

  def close(self) -> None:
    self._checkpoints.close()


def read_best(workdir: str) -> dict | None:
  """The best.json of a workdir's checkpoints_best (metric, mode, value, step), or None."""
  path = os.path.join(workdir, BEST_DIR, "best.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def parse_step(text: str | None) -> int | str | None:
  """A --step flag: a step number, "best" (checkpoints_best) or None (the latest)."""
  if text is None or text == "best":
    return text
  try:
    return int(text)
  except ValueError:
    raise ValueError(f"--step takes a step number or 'best', got {text!r}") from None


def abstract(state_shapes, sharding):
  """The restore target: every leaf's shape and dtype, placed with `sharding`."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                      state_shapes)
