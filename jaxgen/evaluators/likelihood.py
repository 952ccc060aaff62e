"""The method's per-example eval metrics (negative ELBO, bits/dim, NLL, accuracy, D scores)
averaged over a split."""

import jax
import jax.numpy as jnp

from jaxgen import progress
from jaxgen.data import loader as loader_lib
from jaxgen.run import Run


class Likelihood:
  """Means of `method.eval_step` over the first `num` examples of `split` (-1: all; "":
  config.data.eval_split), each example with its own keys, so the means do not depend on the
  batch size or the device count."""

  def __init__(self, run: Run, *, num: int = -1, split: str = "", seed: int = 0):
    del seed  # examples are keyed by their index in the split (prng "eval" streams)
    self._run, self.num = run, num
    self.split = split or run.config.data.eval_split
    self.batch_size = run.config.eval.batch_size
    if self.batch_size % run.mesh.size:
      raise ValueError(f"config.eval.batch_size={self.batch_size} is not divisible by "
                       f"{run.mesh.size} devices")
    self._sums = jax.jit(self._sums_impl)

  def _sums_impl(self, state, raw):
    """Sums over the unmasked examples of one eval batch."""
    def eval_one(state, example, keys):
      batch = self._run.preprocess(example, keys["eval_preprocess"])
      return self._run.method.eval_step(state, batch, keys["eval_method"])
    metrics = self._run.per_example(eval_one, state, raw, ("eval_preprocess", "eval_method"))
    return {k: jnp.sum(jnp.where(raw["mask"], v, 0.0)) for k, v in metrics.items()}

  def metric_names(self) -> list[str]:
    """The keys `run` returns, from a trace of the eval step (nothing is compiled or run)."""
    ds = self._run.dataset(self.split)
    bs = self.batch_size
    raw = {"image": jax.ShapeDtypeStruct((bs, *ds.images.shape[1:]), ds.images.dtype),
           "label": jax.ShapeDtypeStruct((bs,), jnp.int32),
           "mask": jax.ShapeDtypeStruct((bs,), jnp.bool_),
           "index": jax.ShapeDtypeStruct((bs,), jnp.int32)}
    return sorted(jax.eval_shape(self._sums_impl, self._run.abstract_state(), raw))

  def description(self) -> str:
    """What `run` computes, for its progress bar: "IWAE-1000 bound, test split"."""
    eval_config = self._run.config.eval
    k = eval_config.iwae_k if "iwae_k" in eval_config else 0
    what = f"IWAE-{k} bound" if k > 0 else f"{self._run.config.method} eval metrics"
    return f"{what}, {self.split} split"

  def run(self, state) -> tuple[dict, dict[str, float]]:
    ds = self._run.dataset(self.split)
    n = len(ds.images) if self.num < 0 else min(self.num, len(ds.images))
    totals = None
    with progress.bar(n, self.description()) as bar:
      for raw in loader_lib.eval_batches(ds.images[:n], ds.labels[:n], self.batch_size,
                                         self._run.mesh):
        before = totals
        sums = self._sums(state, raw)
        totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
        if before is not None and not bar.disable:
          # The bar counts computed batches: wait for the one before this (no transfer to the
          # host), while this one keeps the device busy.
          jax.block_until_ready(before)
          bar.update(self.batch_size)
      totals = jax.device_get(totals)
      bar.update(n - bar.n)
    return {"num_evaluated": n}, {k: float(v) / n for k, v in totals.items()}
