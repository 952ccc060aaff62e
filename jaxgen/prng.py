"""Named PRNG streams: one root key per run, one stream per purpose, never shared."""

import jax

# Fixed ids, so a stream's numbers never depend on which other streams exist.
STREAMS = {"init": 0, "data": 1, "train": 2, "sample": 3, "eval": 4}


def root_key(seed: int) -> jax.Array:
  return jax.random.key(seed)


def stream(root: jax.Array, name: str) -> jax.Array:
  if name not in STREAMS:
    raise KeyError(f"unknown PRNG stream {name!r}; expected one of {sorted(STREAMS)}")
  return jax.random.fold_in(root, STREAMS[name])
