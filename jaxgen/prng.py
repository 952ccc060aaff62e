"""Named PRNG streams: one root key per run, one stream per purpose, never shared.

Every random number a run draws starts from one entry of `USES`: the base key of that use is
fold_in(stream, id). Per-step and per-example keys fold the step or the example's index into
a base key, never into a stream, so no two uses can meet (tests/test_prng.py checks it).
"""

import jax

# Fixed ids, so a stream's numbers never depend on which other streams exist.
STREAMS = {"init": 0, "data": 1, "train": 2, "sample": 3, "eval": 4, "reconstruct": 5}

# use -> (stream, id within the stream).
USES = {
    "data_order": ("data", 0),           # fold_in(epoch): the epoch's permutation
    "data_preprocess": ("data", 1),      # fold_in(step): the training batch's binarization
    "sample_grid": ("sample", 0),        # a grid of samples (and DRAW's canvases leading to it)
    "interpolate": ("sample", 1),        # latent walks
    "sample_metrics": ("sample", 2),     # fold_in(sample index): samples scored by FID etc.
    "eval_preprocess": ("eval", 0),      # fold_in(example index): eval binarization
    "eval_method": ("eval", 1),          # fold_in(example index): the method's eval noise
    "reconstruct_preprocess": ("reconstruct", 0),  # fold_in(example index)
    "reconstruct_method": ("reconstruct", 1),      # fold_in(example index)
}


def root_key(seed: int) -> jax.Array:
  return jax.random.key(seed)


def stream(root: jax.Array, name: str) -> jax.Array:
  if name not in STREAMS:
    raise KeyError(f"unknown PRNG stream {name!r}; expected one of {sorted(STREAMS)}")
  return jax.random.fold_in(root, STREAMS[name])


def run_keys(seed: int) -> dict[str, jax.Array]:
  """Every base key a run derives from `seed`: "init" (parameters), "train" (fold_in(step):
  the method's noise) and each of USES."""
  root = root_key(seed)
  return {"init": stream(root, "init"), "train": stream(root, "train"),
          **{use: use_key(root, use) for use in USES}}


def use_key(root: jax.Array, use: str) -> jax.Array:
  """The base key of `use` (a key of USES) under `root`."""
  if use not in USES:
    raise KeyError(f"unknown PRNG use {use!r}; expected one of {sorted(USES)}")
  name, index = USES[use]
  return jax.random.fold_in(stream(root, name), index)
