"""Pixel preprocessing in pure jax.numpy, so it runs inside the jitted step on uint8 batches:
the device holds uint8 (4x smaller) and binarization draws fresh pixels every step."""

import jax
import jax.numpy as jnp
import numpy as np


def _binarize(x, key):
  """Dynamic binarization: each pixel is a fresh Bernoulli(x / 255) draw."""
  return jax.random.bernoulli(key, x / 255.0).astype(jnp.float32)


def _dequantize(x, key):
  """Uniform dequantization onto [x/256, (x+1)/256). In float32 (x + u) / 256 can round up to
  (x+1)/256, i.e. 1.0 for x = 255, where logit-space models diverge; clamp below it."""
  upper = jnp.nextafter((x + 1.0) / 256.0, 0.0)
  return jnp.minimum((x + jax.random.uniform(key, x.shape)) / 256.0, upper)


def _dequantize11(x, key):
  """`_dequantize` mapped to [-1, 1): onto [x/128 - 1, (x+1)/128 - 1), bins of width 2/256 (the
  Gaussian likelihood's data). Exact in float32, so it stays below 1 as `_dequantize` does."""
  return 2.0 * _dequantize(x, key) - 1.0


_MODES = {
    "binarize": _binarize,
    "scale01": lambda x, key: x / 255.0,
    "scale11": lambda x, key: x / 127.5 - 1.0,
    "dequantize": _dequantize,
    "dequantize11": _dequantize11,
    "none": lambda x, key: x,
}
MODES = tuple(_MODES)


def preprocess(images_uint8: jax.Array, key: jax.Array, mode: str) -> jax.Array:
  """float32 images from uint8 ones; `key` is used by "binarize" and the dequantizations only."""
  if mode not in _MODES:
    raise ValueError(f"unknown preprocessing mode {mode!r}; expected one of {MODES}")
  return _MODES[mode](images_uint8.astype(jnp.float32), key)


def pad_widths(height: int, width: int, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
  """((top, bottom), (left, right)) that pad an H x W image to size x size (28 -> 32: 2 pixels
  each side); an odd difference puts the extra pixel at the bottom / right."""
  if size < height or size < width:
    raise ValueError(f"pad_to({size}): images are {height}x{width}, larger than {size}")
  return (((size - height) // 2, (size - height + 1) // 2),
          ((size - width) // 2, (size - width + 1) // 2))


def pad_to(images, size: int):
  """Pads H and W of [..., H, W, C] uint8 (or [0, 1] display) images to `size` with black.
  Pad before `preprocess`: black then becomes what black becomes in every mode (-1 for
  scale11), where zero-padding preprocessed data would draw a mid-grey frame."""
  height, width = images.shape[-3:-1]
  pads = [(0, 0)] * images.ndim
  pads[-3], pads[-2] = pad_widths(height, width, size)
  return (np if isinstance(images, np.ndarray) else jnp).pad(images, pads)
