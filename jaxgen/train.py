"""The one state-passing trainer. It knows the Method contract and nothing of any family.

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
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from tqdm import tqdm

from jaxgen import checkpoint, config as config_lib, distributed, images, methods, prng
from jaxgen import data as data_lib
from jaxgen.data import loader as loader_lib
from jaxgen.methods.base import DataSpec
from jaxgen.metrics import image as image_metrics, sample_quality


class NonFiniteLossError(FloatingPointError):
  pass


# What Run.sample_metrics returns for "ssim": the mean of each over eval images.
_SSIM_SCORES = {"ssim": image_metrics.ssim, "ms_ssim": image_metrics.ms_ssim,
                "psnr": image_metrics.psnr}


class Run:
  """What a trainer, sampler or evaluator needs for one config: data spec, method, mesh,
  keys, the jitted functions and the checkpoints. Built identically by every entry point."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    distributed.initialize(config.distributed)
    # Random bits independent of how arrays are sharded: 1 device and N give the same numbers.
    jax.config.update("jax_threefry_partitionable", True)
    self.config, self.workdir = config, workdir
    self.mesh = jax.make_mesh((jax.device_count(),), ("data",),
                              axis_types=(jax.sharding.AxisType.Auto,))
    self.replicated = NamedSharding(self.mesh, P())
    self.keys = prng.run_keys(config.seed)
    self._datasets = {}
    spec_ds = self.dataset(config.data.train_split)
    shape = tuple(spec_ds.images.shape[1:])  # (H, W, C); (2,) for toy_ring's points
    padding = ((0, 0), (0, 0))
    if config.data.pad_to:
      padding = data_lib.pad_widths(*shape[:2], config.data.pad_to)
      shape = (config.data.pad_to, config.data.pad_to, *shape[2:])
    self.spec = DataSpec(image_shape=shape, num_classes=spec_ds.num_classes, padding=padding)
    self.method = methods.get(config, self.spec)
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
    self._eval_sums = jax.jit(self._eval_sums_impl)
    self._reconstruct = jax.jit(self._reconstruct_impl, out_shardings=self.replicated)

  def restore(self, step: int | str | None = None):
    """The checkpointed state at `step` (default: the latest; "best": the one training kept in
    checkpoints_best for config.best_metric); an error if there is none."""
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
      raise FileNotFoundError(f"{self.workdir}/checkpoints holds no checkpoint")
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
    image = self._pad(raw["image"])
    return {"image": data_lib.preprocess(image, key, self.config.data.preprocess),
            "label": raw["label"]}

  def _pad(self, images):
    return data_lib.pad_to(images, self.config.data.pad_to) if self.config.data.pad_to else images

  def _per_example(self, fn, state, raw, use_keys):
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
    0, 1, ..., 0, 1, ... in turn (labels None otherwise)."""
    base = self._sample_key(seed, "sample_metrics")
    for start in range(0, num, batch_size):
      index = np.arange(start, min(start + batch_size, num))
      labels = (index % self.spec.num_classes) if conditional else None
      images = self._sample_each(state, base, index, self._labels(labels))
      yield np.asarray(jax.device_get(images)), labels

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

  def _labels(self, labels):
    """Checks requested class labels against the data and the model."""
    if labels is None:
      return None
    labels = np.asarray(labels, np.int32)
    if not self._conditional:
      raise ValueError(f"labels given, but config {self.config.method}/{self.config.model.name} "
                       "is not class-conditional (model.conditional=False)")
    bad = labels[(labels < 0) | (labels >= self.spec.num_classes)]
    if bad.size:
      raise ValueError(f"label {int(bad[0])} is outside the {self.spec.num_classes} classes "
                       f"of {self.config.data.name} (0..{self.spec.num_classes - 1})")
    return labels

  def _eval_sums_impl(self, state, raw):
    """Sums over the unmasked examples of one eval batch; each example has its own keys."""
    def eval_one(state, example, keys):
      batch = self.preprocess(example, keys["eval_preprocess"])
      return self.method.eval_step(state, batch, keys["eval_method"])
    metrics = self._per_example(eval_one, state, raw, ("eval_preprocess", "eval_method"))
    return {k: jnp.sum(jnp.where(raw["mask"], v, 0.0)) for k, v in metrics.items()}

  def _reconstruct_impl(self, state, raw):
    """Pairs (input, reconstruction) of eval images, as one [2N, H, W, C] array in [0, 1]."""
    def reconstruct_one(state, example, keys):
      batch = self.preprocess(example, keys["reconstruct_preprocess"])
      return self.method.reconstruct(state, batch, keys["reconstruct_method"])
    out = self._per_example(reconstruct_one, state, raw,
                            ("reconstruct_preprocess", "reconstruct_method"))
    inputs = self._pad(raw["image"]).astype(jnp.float32) / 255.0
    return jnp.stack([inputs, out], 1).reshape(-1, *out.shape[1:])

  def reconstruction_batches(self, state, num: int):
    """Yields (inputs, reconstructions) of the first `num` eval images (-1: all), in batches of
    config.eval.batch_size, as float arrays in [0, 1]."""
    ds = self.dataset(self.config.data.eval_split)
    n = len(ds.images) if num < 0 else min(num, len(ds.images))
    for raw in loader_lib.eval_batches(ds.images[:n], ds.labels[:n], self.config.eval.batch_size,
                                       self.mesh):
      pairs = np.clip(np.asarray(jax.device_get(self._reconstruct(state, raw))), 0.0, 1.0)
      keep = np.asarray(jax.device_get(raw["mask"]))
      yield pairs[0::2][keep], pairs[1::2][keep]

  def reconstructions(self, state, num: int) -> np.ndarray:
    """The first `num` eval images (rounded to a multiple of the device count) each followed
    by its reconstruction."""
    ds = self.dataset(self.config.data.eval_split)
    n = max(self.mesh.size, num - num % self.mesh.size)
    raw = next(loader_lib.eval_batches(ds.images[:n], ds.labels[:n], n, self.mesh))
    return np.clip(np.asarray(jax.device_get(self._reconstruct(state, raw))), 0.0, 1.0)

  def eval_metric_names(self) -> list[str]:
    """The keys `evaluate` returns, from a trace of the eval step (nothing is compiled or run)."""
    ds = self.dataset(self.config.data.eval_split)
    bs = self.config.eval.batch_size
    raw = {"image": jax.ShapeDtypeStruct((bs, *ds.images.shape[1:]), ds.images.dtype),
           "label": jax.ShapeDtypeStruct((bs,), jnp.int32),
           "mask": jax.ShapeDtypeStruct((bs,), jnp.bool_),
           "index": jax.ShapeDtypeStruct((bs,), jnp.int32)}
    return sorted(jax.eval_shape(self._eval_sums_impl, self.abstract_state(), raw))

  def sample_metric_names(self, metrics, extractor=None) -> list[str]:
    """The scores `sample_metrics` returns for `metrics` through `extractor`; an error for a
    metric that is unknown or that this method or extractor cannot serve."""
    names = []
    for m in metrics:
      if m == "ssim":
        if self.method.reconstruct is None:
          raise ValueError(f"ssim: method {self.config.method!r} does not reconstruct images")
        names += _SSIM_SCORES
      elif m in sample_quality.SCORES:
        if self.method.sample is None:
          raise ValueError(f"{m}: method {self.config.method!r} generates no images")
        names += sample_quality.SCORES[m]
      else:
        raise ValueError(f"unknown sample metric {m!r}; expected any of "
                         f"{', '.join([*sample_quality.SCORES, 'ssim'])}")
    if extractor is not None:
      sample_quality.check_logits(metrics, extractor.has_logits)
      if self._conditional and extractor.dataset_classes:
        names.append("class_accuracy")
    return names

  @property
  def _conditional(self) -> bool:
    return bool(self.config.model.get("conditional", False))

  def sample_metrics(self, state, metrics, *, extractor, split: str, num: int, seed: int,
                     batch_size: int, cache_dir: str) -> tuple[dict, dict[str, float]]:
    """Sample quality of `state`, for the trainer and jaxgen.evaluate alike: `ssim` (SSIM,
    MS-SSIM and PSNR of the first `num` eval images and their reconstructions) and fid, kid,
    is, pr (`num` samples from `seed` against all of `split`, through `extractor`, see
    sample_quality.score; real features cached in `cache_dir`). num -1: the split's size.
    Returns (extractor and counts compared, scores)."""
    self.sample_metric_names(metrics, extractor)
    info, scores = {}, {}
    if "ssim" in metrics:
      sums, n = dict.fromkeys(_SSIM_SCORES, 0.0), 0
      for x, y in self.reconstruction_batches(state, num):
        for name, fn in _SSIM_SCORES.items():
          sums[name] += float(np.sum(fn(x, y, data_range=1.0)))
        n += len(x)
      scores.update({k: v / n for k, v in sums.items()})
    features = [m for m in metrics if m in sample_quality.SCORES]
    if features:
      real = self.dataset(split)
      num = len(real.images) if num < 0 else num
      batches = list(self.sample_batches(state, seed, num, batch_size, self._conditional))
      labels = np.concatenate([l for _, l in batches]) if self._conditional else None
      info, feature_scores = sample_quality.score_images(
          features, extractor, (x for x, _ in batches), real.images,
          key=f"{self.config.data.name}_{split}", pad_to=self.config.data.pad_to,
          batch_size=batch_size, cache_dir=cache_dir, seed=seed,
          labels=labels if extractor.dataset_classes else None)
      scores.update(feature_scores)
    return info, scores

  def evaluate(self, state, split: str, num_examples: int = -1) -> dict[str, float]:
    """Mean of the method's per-example eval metrics over a split, in fixed order."""
    ds = self.dataset(split)
    n = len(ds.images) if num_examples < 0 else min(num_examples, len(ds.images))
    bs = self.config.eval.batch_size
    if bs % self.mesh.size:
      raise ValueError(f"config.eval.batch_size={bs} is not divisible by {self.mesh.size} devices")
    totals = None
    batches = loader_lib.eval_batches(ds.images[:n], ds.labels[:n], bs, self.mesh)
    for raw in batches:
      sums = self._eval_sums(state, raw)
      totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    return {k: float(v) / n for k, v in jax.device_get(totals).items()}


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


def _eval_setup(run: Run, is_main: bool):
  """The sample metrics of config.eval, their feature extractor (None without fid/kid/is/pr)
  and the keeper of the best checkpoint (None without config.best_metric), checked before the
  first step: a bad name is an error now, not at the first eval."""
  config = run.config
  metrics = list(dict.fromkeys(m.strip() for m in config.eval.sample_metrics.split(",")
                               if m.strip()))
  extractor = None
  if set(metrics) & set(sample_quality.SCORES):
    extractor = sample_quality.make_extractor(config.eval.extractor, dataset=config.data.name,
                                              inception_weights=config.eval.inception_weights)
  try:
    names = run.sample_metric_names(metrics, extractor)
  except ValueError as e:
    raise ValueError(f"config.eval.sample_metrics: {e}") from None
  best = None
  if config.best_metric:
    logged = [f"eval/{k}" for k in [*run.eval_metric_names(), *names]]
    if config.best_metric not in logged:
      raise ValueError(f"config.best_metric={config.best_metric!r} is not an eval metric of this "
                       f"run; expected one of {', '.join(logged)} (more with "
                       "config.eval.sample_metrics)")
    best = checkpoint.Best(run.workdir, config.best_metric, config.best_mode, write=is_main)
  return metrics, extractor, best


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  """Trains `config` in `workdir`, resuming from its latest checkpoint; returns the final
  state and a summary (last train and eval metrics, the best.json record of
  config.best_metric, step-function compile count)."""
  run = Run(config, workdir)
  is_main = jax.process_index() == 0
  sample_metrics, extractor, best = _eval_setup(run, is_main)
  if is_main:
    config_lib.save(config, workdir)
  from jaxgen.writers import MetricWriter
  writer = MetricWriter(workdir, enabled=is_main)

  train_ds = run.dataset(config.data.train_split)
  loader = loader_lib.make_loader(train_ds.images, train_ds.labels, config.batch_size, run.mesh,
                                  run.keys["data_order"], config.data.on_device)
  pre_key = run.keys["data_preprocess"]
  traces = []
  method_step = methods.base.count_steps(run.method.train_step)  # the trainer advances step

  def train_step(state, inputs):
    traces.append(None)  # runs once per trace: a retrace would show up in the summary
    raw = loader.select(inputs, state.step)
    batch = run.preprocess(raw, jax.random.fold_in(pre_key, state.step))
    return method_step(state, batch, jax.random.fold_in(run.keys["train"], state.step))

  step_fn = jax.jit(train_step, donate_argnums=0, out_shardings=run.replicated)

  state = run.restore_or_init()
  step = int(jax.device_get(state.step))
  if step:
    logging.info("resuming from the checkpoint at step %d in %s", step, workdir)
  last = config.num_steps
  metrics_every = config.eval.sample_metrics_every or config.eval_every
  cache_dir = config.eval.cache_dir or sample_quality.DEFAULT_CACHE
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
        raise NonFiniteLossError(
            f"non-finite loss ({m['loss']}) at step {s}; stopping. The last good checkpoint "
            f"(step {run.checkpoints.latest_step()}) in {workdir} is kept.")
    means = {f"train/{k}": float(np.mean([m[k] for m in values])) for k in values[0]}
    now = time.perf_counter()
    means["train/images_per_sec"] = (steps[-1] - step_last) * config.batch_size / (now - t_last)
    t_last, step_last = now, steps[-1]
    writer.write_scalars(steps[-1], means)
    summary["train"] = means
    bar.set_postfix(loss=f"{means['train/loss']:.3f}",
                    img_s=f"{means['train/images_per_sec']:.0f}", refresh=False)

  bar = tqdm(total=last, initial=step, unit="step", disable=not is_main, dynamic_ncols=True)
  try:
    with _StopSignal() as stop:
      while step < last:
        state, metrics = step_fn(state, loader.inputs(step))
        step += 1
        bar.update(1)
        pending.append((step, metrics))
        due = {name: _due(step, every, last) for name, every in (
            ("log", config.log_every), ("eval", config.eval_every),
            ("sample", config.sample_every), ("checkpoint", config.checkpoint_every))}
        due["metrics"] = bool(sample_metrics) and _due(step, metrics_every, last)
        stopping = stop.requested  # read once: a signal between two reads must not skip the save
        due["checkpoint"] |= bool(stopping)
        if any(due.values()):
          flush()  # before a checkpoint too: never save a state whose loss went non-finite
        if due["eval"] or due["metrics"]:
          scores = {}
          if due["eval"]:
            scores.update(run.evaluate(state, config.data.eval_split, config.eval.num_examples))
          if due["metrics"]:
            _, sample_scores = run.sample_metrics(
                state, sample_metrics, extractor=extractor, split=config.data.eval_split,
                num=config.eval.sample_metrics_num, seed=config.seed,
                batch_size=config.eval.batch_size, cache_dir=cache_dir)
            scores.update(sample_scores)
          scores = {f"eval/{k}": v for k, v in scores.items()}
          summary["eval"].update(scores)
          writer.write_scalars(step, scores)
          if best is not None and config.best_metric in scores:
            best.update(step, scores[config.best_metric], state)
        if due["sample"] and run.method.sample is not None:
          _write_grids(run, state, step, workdir, is_main)
        if due["checkpoint"]:
          run.checkpoints.save(step, state)
        if due["eval"] or due["metrics"] or due["sample"] or due["checkpoint"]:
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
