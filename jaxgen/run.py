"""What every entry point builds for one config: data spec, method, mesh, keys, checkpoints,
and the jitted functions that sample from a state. The trainer (jaxgen.train), the evaluators
(jaxgen.evaluators), jaxgen.sample and jaxgen.evaluate all start from a `Run`.
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from jaxgen import checkpoint, config as config_lib, methods, progress, prng
from jaxgen import data as data_lib
from jaxgen.data import loader as loader_lib
from jaxgen.types import ConfigError, DataSpec


class Run:
  """Built identically by every entry point; `jaxgen.runtime.setup` must have run first (the
  entry points call it) for their numbers."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    config = methods.with_defaults(config)  # a workdir from before a key existed
    self.config, self.workdir = config, workdir
    self.mesh = jax.make_mesh((jax.device_count(),), ("data",),
                              axis_types=(jax.sharding.AxisType.Auto,))
    self.replicated = NamedSharding(self.mesh, P())
    self.keys = prng.run_keys(config.seed)
    self._datasets = {}
    spec_ds = self.dataset(config.data.train_split)
    shape = tuple(spec_ds.images.shape[1:])  # (H, W, C); (2,) for toy_ring's points
    padding = ((0, 0), (0, 0))
    config_lib.validate_image_size(config, shape)
    if config.data.pad_to:
      padding = data_lib.pad_widths(*shape[:2], config.data.pad_to)
      shape = (config.data.pad_to, config.data.pad_to, *shape[2:])
    self.spec = DataSpec(image_shape=shape, num_classes=spec_ds.num_classes, padding=padding)
    try:
      self.method = methods.get(config, self.spec)
    except ValueError as e:  # names or settings of the config that cannot build a method
      raise ConfigError(str(e)) from e
    self.checkpoints = checkpoint.Checkpoints(workdir, keep=config.keep_checkpoints)
    self._init = jax.jit(self.method.init, out_shardings=self.replicated)
    self._sample = jax.jit(self.method.sample, static_argnums=2,
                           out_shardings=self.replicated) if self.method.sample else None
    self._sample_sequence = jax.jit(self.method.sample_sequence, static_argnums=2,
                                    out_shardings=self.replicated) \
        if self.method.sample_sequence else None
    self._interpolate = jax.jit(self.method.interpolate, static_argnums=(2, 3),
                                out_shardings=self.replicated) if self.method.interpolate else None
    self._sample_each = jax.jit(self._sample_each_impl, out_shardings=self.replicated) \
        if self.method.sample else None
    self.reconstruct = jax.jit(self._reconstruct_impl, out_shardings=self.replicated) \
        if self.method.reconstruct else None

  def restore(self, step: int | str | None = None):
    """The checkpointed state at `step` (default: the latest readable one, see
    jaxgen.checkpoint; "best": the one training kept in checkpoints_best for
    config.best_metric); NoReadableCheckpointError (a FileNotFoundError) if there is none."""
    if step == "best":
      if checkpoint.read_best(self.workdir) is None:
        raise FileNotFoundError(f"{self.workdir}/{checkpoint.BEST_DIR} holds no best checkpoint "
                                "(training keeps one when config.best_metric is set)")
      best = checkpoint.Checkpoints(self.workdir, keep=1, name=checkpoint.BEST_DIR)
      try:
        return best.restore(self.abstract_state())
      finally:
        best.close()
    if self.checkpoints.latest_step() is None:
      raise checkpoint.NoReadableCheckpointError(f"{self.workdir}/checkpoints holds no checkpoint")
    return self.checkpoints.restore(self.abstract_state(), step)

  def dataset(self, split: str) -> data_lib.Dataset:
    if split not in self._datasets:
      d = self.config.data
      self._datasets[split] = data_lib.load(d.name, split, data_dir=d.data_dir or None,
                                            download=d.download)
    return self._datasets[split]

  def preprocess(self, raw, key):
    """uint8 batch -> the float batch a method sees (inside jit). Padding comes first, in
    uint8, so the border is black in every preprocessing mode."""
    image = self.pad(raw["image"])
    return {"image": data_lib.preprocess(image, key, self.config.data.preprocess),
            "label": raw["label"]}

  def pad(self, images):
    """uint8 images padded with black to config.data.pad_to (unchanged without it)."""
    return data_lib.pad_to(images, self.config.data.pad_to) if self.config.data.pad_to else images

  def per_example(self, fn, state, raw, use_keys):
    """fn(state, batch, keys) on each example of `raw` alone, each with keys folded from its
    index in the split: results that do not depend on the batch size or the device count."""
    keys = {use: jax.vmap(lambda i, u=use: jax.random.fold_in(self.keys[u], i))(raw["index"])
            for use in use_keys}

    def one(image, label, keys):
      example = {"image": image[None], "label": label[None]}
      return jax.tree.map(lambda v: v[0], fn(state, example, keys))
    return jax.vmap(one)(raw["image"], raw["label"], keys)

  def _dummy_batch(self):
    b = self.config.batch_size
    return {"image": jnp.zeros((b, *self.spec.image_shape), jnp.float32),
            "label": jnp.zeros((b,), jnp.int32)}

  def init_state(self):
    return self._init(self.keys["init"], self._dummy_batch())

  def abstract_state(self):
    shapes = jax.eval_shape(self.method.init, self.keys["init"], self._dummy_batch())
    return checkpoint.abstract(shapes, self.replicated)

  def restore_or_init(self):
    return self.init_state() if self.checkpoints.latest_step() is None else self.restore()

  def sample(self, state, seed: int, num: int, labels=None) -> np.ndarray:
    """float images in [0, 1]; the same (state, seed, num, labels) gives the same pixels.
    labels: int [num] for conditional methods; None for the method's default."""
    if self.method.sample is None:
      raise ValueError(f"method {self.config.method!r} generates no images")
    return np.asarray(jax.device_get(self._sample(state, self._sample_key(seed, "sample_grid"),
                                                  num, self._labels(labels))))

  def sample_batches(self, state, seed: int, num: int, batch_size: int, conditional: bool):
    """Yields (images, labels) batches of `num` samples for evaluation, sample i from its own
    key (independent of `sample`'s and of the batch size); a conditional model gets classes
    0, 1, ..., 0, 1, ... in turn (labels None otherwise). A progress bar counts them."""
    base = self._sample_key(seed, "sample_metrics")
    with progress.bar(num, f"sampling {num} images") as bar:
      for start in range(0, num, batch_size):
        index = np.arange(start, min(start + batch_size, num))
        labels = (index % self.spec.num_classes) if conditional else None
        images = np.asarray(jax.device_get(self._sample_each(state, base, index,
                                                             self._labels(labels))))
        bar.update(len(index))
        yield images, labels

  def _sample_each_impl(self, state, base, index, labels):
    """Sample index[i] from fold_in(base, index[i]), one at a time."""
    def one(i, label):
      one_label = None if label is None else label[None]
      return self.method.sample(state, jax.random.fold_in(base, i), 1, one_label)[0]
    return jax.vmap(one)(index, labels)

  def sample_sequence(self, state, seed: int, num: int) -> np.ndarray:
    """[T, num, ...] float images in [0, 1]: every step of a sequential sampler (DRAW's
    canvases); the last equals `sample(state, seed, num)`."""
    if self.method.sample_sequence is None:
      raise ValueError(f"method {self.config.method!r} does not generate a sequence of canvases")
    return np.asarray(jax.device_get(
        self._sample_sequence(state, self._sample_key(seed, "sample_grid"), num)))

  def interpolate(self, state, seed: int, num_rows: int, steps: int, labels=None) -> np.ndarray:
    """[num_rows · steps, ...] float images in [0, 1]: one latent walk per row."""
    if self.method.interpolate is None:
      raise ValueError(f"method {self.config.method!r} has no latent space to interpolate in")
    return np.asarray(jax.device_get(self._interpolate(
        state, self._sample_key(seed, "interpolate"), num_rows, steps, self._labels(labels))))

  @staticmethod
  def _sample_key(seed: int, use: str):
    return prng.use_key(prng.root_key(seed), use)

  @property
  def conditional(self) -> bool:
    return bool(self.config.model.get("conditional", False))

  def _labels(self, labels):
    """Checks requested class labels against the data and the model."""
    if labels is None:
      return None
    labels = np.asarray(labels, np.int32)
    if not self.conditional:
      raise ValueError(f"labels given, but config {self.config.method}/{self.config.model.name} "
                       "is not class-conditional (model.conditional=False)")
    bad = labels[(labels < 0) | (labels >= self.spec.num_classes)]
    if bad.size:
      raise ValueError(f"label {int(bad[0])} is outside the {self.spec.num_classes} classes "
                       f"of {self.config.data.name} (0..{self.spec.num_classes - 1})")
    return labels

  def _reconstruct_impl(self, state, raw):
    """Pairs (input, reconstruction) of eval images, as one [2N, H, W, C] array in [0, 1]."""
    def reconstruct_one(state, example, keys):
      batch = self.preprocess(example, keys["reconstruct_preprocess"])
      return self.method.reconstruct(state, batch, keys["reconstruct_method"])
    out = self.per_example(reconstruct_one, state, raw,
                           ("reconstruct_preprocess", "reconstruct_method"))
    inputs = self.pad(raw["image"]).astype(jnp.float32) / 255.0
    return jnp.stack([inputs, out], 1).reshape(-1, *out.shape[1:])

  def reconstructions(self, state, num: int) -> np.ndarray:
    """The first `num` eval images (rounded to a multiple of the device count) each followed
    by its reconstruction, for sample grids."""
    ds = self.dataset(self.config.data.eval_split)
    n = max(self.mesh.size, num - num % self.mesh.size)
    raw = next(loader_lib.eval_batches(ds.images[:n], ds.labels[:n], n, self.mesh))
    return np.clip(np.asarray(jax.device_get(self.reconstruct(state, raw))), 0.0, 1.0)
