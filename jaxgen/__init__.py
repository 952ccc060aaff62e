"""jaxgen: image generation research in JAX/Flax. Importing it changes no global state: the
entry points call `jaxgen.runtime.setup` (XLA flags, PRNG, multi-host)."""

__version__ = "0.1.0"
