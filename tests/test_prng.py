"""jaxgen.prng: the keys a run derives never coincide."""

import jax
import numpy as np

from jaxgen import prng


def test_every_key_a_run_derives_is_distinct():
  """Base keys of every use (training, evaluation, sampling, interpolation, reconstruction,
  sample metrics), and the per-step / per-example keys folded from them, never coincide."""
  keys = prng.run_keys(0)
  assert set(keys) == {"init", "train", *prng.USES}
  derived = {name: key for name, key in keys.items()}
  for name, key in keys.items():
    for i in range(4):
      derived[f"{name}/{i}"] = jax.random.fold_in(key, i)
  for seed in (1, 2):  # samples drawn with other seeds than the config's
    for use in ("sample_grid", "interpolate", "sample_metrics"):
      derived[f"seed{seed}/{use}"] = prng.use_key(prng.root_key(seed), use)
  data = {name: tuple(np.asarray(jax.random.key_data(k)).ravel()) for name, k in derived.items()}
  assert len(set(data.values())) == len(data), "two uses share a key"
