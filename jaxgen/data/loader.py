"""Loaders: a dataset becomes a sequence of global batches whose order depends only on
(data key, step), so a resumed run sees exactly the batches an uninterrupted one would.

Both loaders share one protocol, used by the trainer's jitted step:
  inputs = loader.inputs(step)          # host side: device arrays for this step
  raw = loader.select(inputs, step)     # traced inside jit: {"image": uint8, "label": int32}
`OnDeviceLoader` keeps the uint8 array on the device(s) and gathers batches inside jit, so
the host only hands over the same arrays each step. `StreamingLoader` is for datasets that
do not fit: tf.data gathers each process's shard of every global batch on the host, with
prefetch, from the same permutation.
"""

import logging
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

# Datasets up to this many bytes live on the device; larger ones stream (config.data.on_device).
ON_DEVICE_MAX_BYTES = 2 * 1024**3


def epoch_permutation(data_key: jax.Array, epoch: int, n: int) -> jax.Array:
  return jax.random.permutation(jax.random.fold_in(data_key, epoch), n)


class OnDeviceLoader:
  """The whole uint8 dataset replicated on every device; one permutation per epoch."""

  def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, mesh: Mesh,
               data_key: jax.Array):
    n = len(images)
    if n < batch_size:
      raise ValueError(f"dataset has {n} examples, fewer than one batch of {batch_size}")
    self.batch_size = batch_size
    self.steps_per_epoch = n // batch_size  # the remainder is dropped; it differs each epoch
    self._key = data_key
    self._n = n
    replicated = NamedSharding(mesh, P())
    self._batch_sharding = NamedSharding(mesh, P("data"))
    self._data = {"image": _global_replicated(images, replicated),
                  "label": _global_replicated(labels.astype(np.int32), replicated)}
    self._perm = jax.jit(epoch_permutation, static_argnums=2, out_shardings=replicated)
    self._epoch, self._epoch_perm = None, None

  def inputs(self, step: int) -> dict[str, Any]:
    epoch = step // self.steps_per_epoch
    if epoch != self._epoch:
      self._epoch, self._epoch_perm = epoch, self._perm(self._key, epoch, self._n)
    return {"data": self._data, "perm": self._epoch_perm}

  def select(self, inputs, step: jax.Array) -> dict[str, jax.Array]:
    start = (step % self.steps_per_epoch) * self.batch_size
    idx = jax.lax.dynamic_slice_in_dim(inputs["perm"], start, self.batch_size)
    idx = jax.lax.with_sharding_constraint(idx, self._batch_sharding)
    return jax.tree.map(lambda a: a[idx], inputs["data"])


class StreamingLoader:
  """Host-side tf.data pipeline over the same permutation as OnDeviceLoader; each process
  gathers only its rows of every global batch and hands them over as a global array."""

  def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, mesh: Mesh,
               data_key: jax.Array, prefetch: int = 2):
    n = len(images)
    if n < batch_size:
      raise ValueError(f"dataset has {n} examples, fewer than one batch of {batch_size}")
    nproc, pid = jax.process_count(), jax.process_index()
    if batch_size % nproc:
      raise ValueError(f"batch_size {batch_size} is not divisible by {nproc} processes")
    self.batch_size = batch_size
    self.steps_per_epoch = n // batch_size
    self._images, self._labels = images, labels.astype(np.int32)
    self._key, self._n, self._prefetch = data_key, n, prefetch
    self._local = slice(pid * batch_size // nproc, (pid + 1) * batch_size // nproc)
    self._sharding = NamedSharding(mesh, P("data"))
    self._iter, self._next_step = None, None

  def _stream(self, step: int):
    import tensorflow as tf  # only this path needs TensorFlow
    epoch, offset = divmod(step, self.steps_per_epoch)
    spe, b, local = self.steps_per_epoch, self.batch_size, self._local

    def epochs():
      for e in range(epoch, 2**31):
        perm = np.asarray(epoch_permutation(self._key, e, self._n))
        rows = perm[:spe * b].reshape(spe, b)[:, local]
        yield from rows[offset if e == epoch else 0:]

    ds = tf.data.Dataset.from_generator(
        epochs, output_signature=tf.TensorSpec([local.stop - local.start], tf.int64))
    ds = ds.map(lambda i: {"image": tf.gather(self._images, i), "label": tf.gather(self._labels, i)})
    return iter(ds.prefetch(self._prefetch).as_numpy_iterator())

  def inputs(self, step: int) -> dict[str, Any]:
    if step != self._next_step:  # first call, or a jump (resume): restart at this step
      self._iter = self._stream(step)
    self._next_step = step + 1
    local = next(self._iter)
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(self._sharding, a), local)

  def select(self, inputs, step: jax.Array) -> dict[str, jax.Array]:
    del step  # the batch was chosen on the host
    return inputs


def make_loader(images, labels, batch_size, mesh, data_key, on_device: str = "auto"):
  """on_device: "auto" (by size against ON_DEVICE_MAX_BYTES), "yes" or "no"."""
  if on_device not in ("auto", "yes", "no"):
    raise ValueError(f"config.data.on_device={on_device!r}; expected 'auto', 'yes' or 'no'")
  if batch_size % mesh.size:
    raise ValueError(f"batch_size {batch_size} is not divisible by {mesh.size} devices")
  fits = images.nbytes + labels.nbytes <= ON_DEVICE_MAX_BYTES
  if on_device == "yes" or (on_device == "auto" and fits):
    return OnDeviceLoader(images, labels, batch_size, mesh, data_key)
  logging.info("dataset of %.1f GB streams through tf.data", images.nbytes / 1e9)
  return StreamingLoader(images, labels, batch_size, mesh, data_key)


def _global_replicated(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
  """A replicated global array; every process supplies its own devices' copies."""
  return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def eval_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, mesh: Mesh):
  """Fixed-order batches covering every example once; the last is padded and masked. "index"
  is each example's position in `images`, for keys that must not depend on the batching."""
  n = len(images)
  sharding = NamedSharding(mesh, P("data"))
  nproc, pid = jax.process_count(), jax.process_index()
  local = slice(pid * batch_size // nproc, (pid + 1) * batch_size // nproc)
  for start in range(0, n, batch_size):
    index = np.arange(start, start + batch_size)
    mask = index < n
    idx = np.where(mask, index, 0)
    batch = {"image": images[idx[local]], "label": labels[idx[local]].astype(np.int32),
             "mask": mask[local], "index": index[local].astype(np.int32)}
    yield jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, a), batch)
