"""orbax checkpoints of the TrainState: periodic, at the end and on a signal; keep the last k.
Beside them, `Best` keeps the one state with the best value of a chosen eval metric.

Every restore is verified. A save writes jaxgen_files.json, the size and CRC-32 of each file,
into the step directory once orbax has written everything but its commit (the table commits
with the checkpoint: a step directory in place has one); the two files orbax writes in the
commit itself are checked by content. Then orbax restores, and the shapes, dtypes and step of
what it returns are checked. (A checkpoint from before the table, without one, gets only the
last two checks.) Restoring the latest checkpoint falls back past unreadable ones: each is moved
aside to <dir>_corrupt/<step> (never deleted) with a one-line warning, unless another live
process trains in the workdir. If none is readable, nothing is moved and
`NoReadableCheckpointError` says what failed for each."""

import json
import logging
import math
import os
import zlib

import jax
import orbax.checkpoint as ocp

from jaxgen import workdir_lock

BEST_DIR = "checkpoints_best"
FILE_TABLE = "jaxgen_files.json"


class NoReadableCheckpointError(FileNotFoundError):
  """Nothing to restore: no checkpoint, or none that passes verification (nothing moved)."""


class CheckpointSaveError(OSError):
  """Writing a checkpoint failed (e.g. the disk is full); the ones before it are kept."""


class _Unreadable(Exception):
  """One checkpoint failed verification; the message says what failed, in one line."""


def _one_line(e: BaseException, limit: int = 300) -> str:
  """The innermost cause of `e` (orbax wraps TensorStore's precise error in a vague one), as
  one line of at most `limit` characters."""
  while e.__cause__ is not None:
    e = e.__cause__
  text = " ".join(str(e).split()) or repr(e)
  text = f"{type(e).__name__}: {text}"
  return text if len(text) <= limit else text[:limit - 3] + "..."


def _crc32(path: str) -> int:
  crc = 0
  with open(path, "rb") as f:
    while chunk := f.read(1 << 22):
      crc = zlib.crc32(chunk, crc)
  return crc


# Written by orbax's commit, after the table: checked by content, not listed in it.
STEP_METADATA, COMMIT_MARKER = "_CHECKPOINT_METADATA", "commit_success.txt"
_UNLISTED = (FILE_TABLE, STEP_METADATA, COMMIT_MARKER)
_TMP_SUFFIX = ".orbax-checkpoint-tmp"  # orbax's temporary step directory until the commit


def write_file_table(step_dir: str) -> None:
  """Records the size and CRC-32 of every file of a written checkpoint (atomically)."""
  table = {}
  for root, _, names in os.walk(step_dir):
    for name in names:
      path = os.path.join(root, name)
      relpath = os.path.relpath(path, step_dir)
      if relpath not in _UNLISTED:
        table[relpath] = [os.path.getsize(path), _crc32(path)]
  path = os.path.join(step_dir, FILE_TABLE)
  with open(path + ".tmp", "w") as f:
    json.dump({"format": 1, "files": dict(sorted(table.items()))}, f)
  os.replace(path + ".tmp", path)


def _read(step_dir: str, name: str, parse):
  """parse(text of the file); _Unreadable naming the file if reading or parsing fails."""
  try:
    with open(os.path.join(step_dir, name)) as f:
      return parse(f.read())
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise _Unreadable(f"{name}: {_one_line(e)}") from e


def _names_step(step: int):
  def parse(text: str):
    if not text.endswith(f"{os.sep}{step}"):
      raise ValueError(f"does not name step directory {step}: {text[-60:]!r}")
  return parse


def check_files(step_dir: str, step: int) -> None:
  """Raises _Unreadable if a file in the step's table is missing or differs, or a file of
  orbax's commit does not read as written; no check without a table."""
  if not os.path.exists(os.path.join(step_dir, FILE_TABLE)):
    return
  table = _read(step_dir, FILE_TABLE, lambda text: dict(json.loads(text)["files"]))
  _read(step_dir, STEP_METADATA, lambda text: dict(json.loads(text)))
  _read(step_dir, COMMIT_MARKER, _names_step(step))
  for name, (size, crc) in table.items():
    file = os.path.join(step_dir, name)
    if not os.path.exists(file):
      raise _Unreadable(f"{name}: missing")
    if os.path.getsize(file) != size:
      raise _Unreadable(f"{name}: {os.path.getsize(file)} bytes, expected {size}")
    if _crc32(file) != crc:
      raise _Unreadable(f"{name}: CRC-32 differs from the one recorded at save")


def _check_tree(restored, abstract_state) -> None:
  """Raises _Unreadable unless `restored` has the target's structure, shapes and dtypes."""
  if jax.tree.structure(restored) != jax.tree.structure(abstract_state):
    raise _Unreadable("restored tree differs in structure from the state of this config")
  paths = jax.tree_util.tree_flatten_with_path(abstract_state)[0]
  for (path, want), got in zip(paths, jax.tree.leaves(restored)):
    if (tuple(got.shape), got.dtype) != (tuple(want.shape), want.dtype):
      raise _Unreadable(f"{jax.tree_util.keystr(path)}: {got.dtype}{list(got.shape)}, expected "
                        f"{want.dtype}{list(want.shape)}")


class Checkpoints:

  def __init__(self, workdir: str, *, keep: int, name: str = "checkpoints"):
    self.workdir = workdir
    self.directory = os.path.abspath(os.path.join(workdir, name))
    self._manager = ocp.CheckpointManager(self.directory, options=ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=True,
        async_options=ocp.AsyncOptions(post_finalization_callback=self._write_table)))
    self._saving = None  # the step of the save in flight (or last started)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def step_dir(self, step: int) -> str:
    return os.path.join(self.directory, str(step))

  def save(self, step: int, state) -> None:
    """Starts writing `state` (orbax finishes in the background); raises CheckpointSaveError if
    this save, or the one before it, failed."""
    self.wait()
    self._saving = step
    try:
      self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
    except Exception as e:
      raise self._save_error(step, e) from e

  def _write_table(self) -> None:
    """orbax's post-finalization callback (its save thread): every file of the step is
    written, in the temporary directory that the commit then renames into place."""
    if jax.process_index() == 0:
      final = self.step_dir(self._saving)
      write_file_table(final + _TMP_SUFFIX if os.path.isdir(final + _TMP_SUFFIX) else final)

  def _save_error(self, step: int, e: Exception) -> CheckpointSaveError:
    self._manager.reload()  # the failed step is no checkpoint
    latest = self.latest_step()
    kept = "no checkpoint was saved before it" if latest is None else \
        f"the newest checkpoint is still step {latest}"
    return CheckpointSaveError(f"could not save the checkpoint of step {step} in "
                               f"{self.directory} ({_one_line(e)}); {kept}")

  def wait(self) -> None:
    """Waits for the save in flight; CheckpointSaveError if it failed."""
    try:
      self._manager.wait_until_finished()
    except Exception as e:
      raise self._save_error(self._saving, e) from e

  def restore(self, abstract_state, step: int | None = None):
    """abstract_state: ShapeDtypeStructs with shardings (see `abstract`). `step` None: the
    newest checkpoint that passes verification, moving the ones after it aside."""
    if step is not None:
      if step not in self._manager.all_steps():
        raise NoReadableCheckpointError(
            f"no checkpoint of step {step} in {self.directory} (it holds steps "
            f"{', '.join(map(str, self._manager.all_steps())) or 'none'})")
      try:
        return self._verified(abstract_state, step)
      except _Unreadable as e:
        raise NoReadableCheckpointError(
            f"the checkpoint of step {step} in {self.directory} is unreadable: {e}") from None
    failed = []
    for candidate in sorted(self._manager.all_steps(), reverse=True):
      try:
        state = self._verified(abstract_state, candidate)
      except _Unreadable as e:
        failed.append((candidate, str(e)))
        continue
      self._set_aside(failed, candidate)
      return state
    if not failed:
      raise NoReadableCheckpointError(f"no checkpoint in {self.directory}")
    raise NoReadableCheckpointError(
        f"no readable checkpoint in {self.directory} (nothing was moved or deleted): "
        + "; ".join(f"step {s}: {why}" for s, why in failed))

  def _verified(self, abstract_state, step: int):
    check_files(self.step_dir(step), step)
    try:
      state = self._manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
    except Exception as e:  # orbax and TensorStore raise many types for a damaged file
      raise _Unreadable(_one_line(e)) from e
    _check_tree(state, abstract_state)
    if hasattr(state, "step") and int(jax.device_get(state.step)) != step:
      raise _Unreadable(f"the state inside holds step {int(jax.device_get(state.step))}")
    return state

  def _set_aside(self, failed: list[tuple[int, str]], restored: int) -> None:
    """Moves the unreadable checkpoints after `restored` to <dir>_corrupt/ (one line each)."""
    # One process of a multi-process job moves them, after all agree; a reader leaves them to
    # the trainer of the workdir, whose checkpoint manager tracks them.
    holder = None if jax.process_count() > 1 or not failed else \
        workdir_lock.live_holder(self.workdir)
    for step, why in failed:
      if holder is not None:
        where = f"left in place ({workdir_lock.describe(holder)} trains in this workdir)"
      elif jax.process_index() == 0:
        where = "moved to " + self._move_aside(step)
      else:
        where = "moved aside by process 0"
      logging.warning("checkpoint of step %d in %s is unreadable (%s); %s; restored step %d "
                      "instead", step, self.directory, why, where, restored)
    if failed and holder is None:
      if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("jaxgen_checkpoints_set_aside")
      self._manager.reload()

  def _move_aside(self, step: int) -> str:
    aside = self.directory + "_corrupt"
    os.makedirs(aside, exist_ok=True)
    target, n = os.path.join(aside, str(step)), 0
    while os.path.exists(target):
      n += 1
      target = os.path.join(aside, f"{step}.{n}")
    os.rename(self.step_dir(step), target)
    return target

  def close(self) -> None:
    try:
      self.wait()
    finally:
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
