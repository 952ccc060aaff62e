"""orbax checkpoints of the TrainState: periodic, at the end and on a signal; keep the last k."""

import os

import jax
import orbax.checkpoint as ocp


class Checkpoints:

  def __init__(self, workdir: str, *, keep: int):
    self._manager = ocp.CheckpointManager(
        os.path.abspath(os.path.join(workdir, "checkpoints")),
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

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

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def abstract(state_shapes, sharding):
  """The restore target: every leaf's shape and dtype, placed with `sharding`."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                      state_shapes)
