"""Dataset sources -> host uint8 arrays, NHWC.

`load(name, split)` picks a source automatically and logs the choice (once per process for each
dataset, split and source):
  1. a prepared TFDS dataset in `data_dir` (TFDS's default data dir when None);
  2. offline IDX files: Fashion-MNIST from Debian's `dataset-fashion-mnist`
     (/usr/share/datasets/fashion-mnist, or $JAXGEN_FASHION_MNIST_DIR), MNIST's train (60,000)
     and test (10,000) splits from `shared/data/mnist` beside the repo (or $JAXGEN_MNIST_DIR);
  3. with `download=True`, TFDS downloads and prepares it.
`python -m jaxgen.data.prepare NAME --data_dir D` turns source 2 into source 1.

Splits take TFDS slicing ("test[:8000]", "train[10%:]", "test[-500:]"), applied after loading
so that every source slices the same way.
"""

import functools
import gzip
import math
import os
import re
import zlib
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from absl import logging

from jaxgen.types import ConfigError


class Dataset(NamedTuple):
  images: np.ndarray  # uint8 [N, H, W, C]; float32 [N, 2] points for toy_ring
  labels: np.ndarray  # int32 [N]; zeros where the dataset has no labels
  num_classes: int    # 0 for unlabelled datasets
  source: str         # human-readable provenance


class _TfdsSpec(NamedTuple):
  splits: tuple[str, ...]
  num_classes: int  # 0: unlabelled, labels are zeros
  image_fn: Callable | None = None  # tf function applied to each uint8 image


def _binary_to_255(image):
  """binarized_mnist stores {0, 1}; {0, 255} lets every preprocessing mode apply unchanged."""
  return image * 255


def _celeb_a_64(image):
  """The DCGAN practice (Radford et al. 2016, carpedm20/DCGAN-tensorflow): a central 108x108
  crop of the aligned 218x178 faces, resized to 64x64. Antialiased bilinear averages over the
  1.7x reduction instead of aliasing."""
  import tensorflow as tf
  crop = tf.image.resize_with_crop_or_pad(image, 108, 108)
  small = tf.image.resize(crop, (64, 64), method="bilinear", antialias=True)
  return tf.cast(tf.clip_by_value(tf.round(small), 0, 255), tf.uint8)


_TFDS = {
    "mnist": _TfdsSpec(("train", "test"), 10),
    "fashion_mnist": _TfdsSpec(("train", "test"), 10),
    "binarized_mnist": _TfdsSpec(("train", "validation", "test"), 0, _binary_to_255),
    "cifar10": _TfdsSpec(("train", "test"), 10),
    "svhn_cropped": _TfdsSpec(("train", "test", "extra"), 10),
    "celeb_a": _TfdsSpec(("train", "validation", "test"), 0, _celeb_a_64),
}
_LOCAL_SPLITS = ("train", "test")  # of idx:DIR, digits and toy_ring
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_IDX_MAGIC = {"images": 0x00000803, "labels": 0x00000801}  # uint8 data, 3 or 1 dimensions

# The sklearn digits have no official split; this fixed one keeps the last 297 for testing.
_DIGITS_TRAIN = 1500
_TOY_RING_SEED = {"train": 0, "test": 1}
_TOY_RING = dict(num=10_000, modes=8, radius=2.0, std=0.02)


def load(name: str, split: str, *, data_dir: str | None = None,
         download: bool = False) -> Dataset:
  """The examples of `split` (TFDS slicing allowed) of dataset `name`."""
  base, bounds = _parse_split(split)
  dataset = _load_split(name, base, data_dir, download)
  return _apply_slice(dataset, bounds, split)


def check_name(name: str) -> None:
  """A ConfigError unless `load` knows dataset `name`; reads nothing."""
  if not (name.startswith("idx:") or name in _LOCAL or name in _TFDS):
    known = sorted([*_TFDS, *_LOCAL]) + ["idx:DIR"]
    raise ConfigError(f"unknown dataset {name!r}; expected one of {known}")


def _load_split(name, split, data_dir, download) -> Dataset:
  check_name(name)
  if name.startswith("idx:"):
    _check_split(name, split, _LOCAL_SPLITS)
    return read_idx_split(Path(name[len("idx:"):]), split)
  if name in _LOCAL:
    _check_split(name, split, _LOCAL_SPLITS)
    return _LOCAL[name](split)
  spec = _TFDS[name]
  _check_split(name, split, spec.splits)
  return _resolve(name, split, spec, data_dir, download)


def _resolve(name, split, spec, data_dir, download) -> Dataset:
  """Prepared TFDS, then offline IDX files, then a TFDS download; each refusal is recorded."""
  import tensorflow_datasets as tfds  # TensorFlow takes seconds to import; only this path needs it
  builder = tfds.builder(name, data_dir=data_dir)
  # data_path.exists() first: is_prepared() logs a warning for every missing directory.
  if builder.data_path.exists() and builder.is_prepared() and split in builder.info.splits:
    _announce(name, split, f"reading the prepared TFDS dataset in {builder.data_dir}")
    return _from_tfds(builder, split, spec)
  tried = [f"a prepared TFDS dataset with split {split!r} in {builder.data_dir}: not found"]

  directory = offline_idx_dir(name)
  if directory and has_idx_split(directory, split):
    _announce(name, split, f"reading IDX files from {directory}")
    return read_idx_split(directory, split, num_classes=spec.num_classes)
  if name in _OFFLINE_ENV:
    tried.append(_offline_miss(name, split, directory))

  if download:
    _announce(name, split, f"downloading and preparing with TFDS into {builder.data_dir}")
    builder.download_and_prepare()
    return _from_tfds(builder, split, spec)
  hint = "Pass download=True"
  if name in _OFFLINE_ENV:
    hint += f", or run `python -m jaxgen.data.prepare {name} --data_dir D` and pass data_dir=D"
  raise FileNotFoundError(f"{name} split {split!r}: no source available. Tried:\n  - "
                          + "\n  - ".join(tried) + f"\n{hint}.")


@functools.cache
def _announce(name: str, split: str, source: str) -> None:
  """Logs where a split is read from, once per process: a process may read a split more than
  once (slices of it for training and evaluation, several runs in one process)."""
  logging.info("%s %s: %s", name, split, source)


def _from_tfds(builder, split, spec) -> Dataset:
  import tensorflow as tf
  import tensorflow_datasets as tfds

  def example(ex):
    image = spec.image_fn(ex["image"]) if spec.image_fn else ex["image"]
    label = tf.cast(ex["label"], tf.int32) if spec.num_classes else tf.constant(0, tf.int32)
    return image, label

  # Batches of 8192, not one batch of everything: celeb_a would be 19 GB before cropping.
  ds = builder.as_dataset(split=split, shuffle_files=False).map(example).batch(8192)
  parts = list(tfds.as_numpy(ds))
  images = np.concatenate([p[0] for p in parts])
  labels = np.concatenate([p[1] for p in parts])
  source = f"TFDS dataset {builder.name}:{builder.version} in {builder.data_dir}"
  return Dataset(images, labels, spec.num_classes, source)


# -- IDX files --------------------------------------------------------------------------------

_OFFLINE_ENV = {"fashion_mnist": "JAXGEN_FASHION_MNIST_DIR", "mnist": "JAXGEN_MNIST_DIR"}


def offline_idx_dir(name: str) -> Path | None:
  """The directory of offline IDX files for `name`: $JAXGEN_<NAME>_DIR, else Debian's
  Fashion-MNIST directory, or for MNIST the first `shared/data/mnist` above this file
  (/work/shared/data/mnist for the checkout /work/main); None where there is none. An
  $JAXGEN_<NAME>_DIR that names no directory is an error (FileNotFoundError), not a reason to
  look elsewhere."""
  if name not in _OFFLINE_ENV:
    return None
  override = os.environ.get(_OFFLINE_ENV[name])
  if override:
    if not os.path.isdir(override):
      what = "not a directory" if os.path.exists(override) else "no such directory"
      raise FileNotFoundError(f"${_OFFLINE_ENV[name]}={override}: {what} (it should name the "
                              f"folder of {name}'s IDX files)")
    candidates = [Path(override)]
  elif name == "fashion_mnist":
    candidates = [Path("/usr/share/datasets/fashion-mnist")]
  else:
    candidates = [p / "shared" / "data" / "mnist" for p in Path(__file__).resolve().parents]
  return next((path for path in candidates if path.is_dir()), None)


def _offline_miss(name: str, split: str, directory: Path | None) -> str:
  if directory is None:
    return f"offline IDX files for {name}: no directory found (set ${_OFFLINE_ENV[name]})"
  return f"IDX files in {directory}: no {_IDX_PREFIX[split]}-images-idx3-ubyte[.gz]"


def has_idx_split(directory: Path, split: str) -> bool:
  stem = f"{_IDX_PREFIX[split]}-images-idx3-ubyte"
  return any((directory / f).is_file() for f in (stem, stem + ".gz"))


def read_idx_split(directory: Path, split: str, num_classes: int | None = None) -> Dataset:
  """`{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` of a directory; num_classes defaults to
  max(label) + 1."""
  prefix = _IDX_PREFIX[split]
  image_path = _find_idx(directory, f"{prefix}-images-idx3-ubyte")
  label_path = _find_idx(directory, f"{prefix}-labels-idx1-ubyte")
  images = read_idx(image_path, "images")
  labels = read_idx(label_path, "labels")
  if len(images) != len(labels):
    raise ValueError(f"{image_path} holds {len(images)} images but {label_path} holds "
                     f"{len(labels)} labels")
  if num_classes is None:
    num_classes = int(labels.max()) + 1 if len(labels) else 0
  return Dataset(images[..., None], labels.astype(np.int32), num_classes,
                 f"IDX files in {directory}")


def _find_idx(directory: Path, stem: str) -> Path:
  for path in (directory / stem, directory / f"{stem}.gz"):
    if path.is_file():
      return path
  raise FileNotFoundError(f"{directory / stem}[.gz]: IDX file not found")


def read_idx(path: Path, kind: str) -> np.ndarray:
  """A uint8 IDX array; kind "images" expects 3 dimensions, "labels" 1 (big-endian header)."""
  raw = _read_bytes(path)
  expected = _IDX_MAGIC[kind]
  if len(raw) < 4:
    raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header")
  magic = int.from_bytes(raw[:4], "big")
  if magic != expected:
    raise ValueError(f"{path}: IDX magic number 0x{magic:08x}, expected 0x{expected:08x} "
                     f"for {kind}")
  ndim = magic & 0xFF
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise ValueError(f"{path}: truncated IDX header: expected {header} bytes, got {len(raw)}")
  shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
  size = math.prod(shape)
  if len(raw) - header != size:
    raise ValueError(f"{path}: expected {size} bytes of data for shape {shape}, "
                     f"got {len(raw) - header}")
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _read_bytes(path: Path) -> bytearray:
  """The file's bytes, gunzipped for .gz; a bytearray so np.frombuffer views are writable."""
  data = path.read_bytes()
  if path.suffix != ".gz":
    return bytearray(data)
  try:
    return bytearray(gzip.decompress(data))
  except (EOFError, gzip.BadGzipFile, zlib.error) as e:
    raise ValueError(f"{path}: corrupt or truncated gzip file ({e})") from e


# -- Small built-in datasets --------------------------------------------------------------------

def _digits(split: str) -> Dataset:
  from sklearn.datasets import load_digits  # a test dependency, bundled data: no download
  digits = load_digits()
  images = np.round(digits.images * (255 / 16)).astype(np.uint8)[..., None]
  rows = slice(None, _DIGITS_TRAIN) if split == "train" else slice(_DIGITS_TRAIN, None)
  return Dataset(images[rows], digits.target[rows].astype(np.int32), 10,
                 f"sklearn load_digits (train: first {_DIGITS_TRAIN}, test: the rest)")


def _toy_ring(split: str) -> Dataset:
  """Not images: `images` holds float32 [N, 2] points of a mixture of Gaussians on a ring,
  `labels` the mode of each; a fixed seed per split makes both reproducible."""
  cfg = _TOY_RING
  rng = np.random.default_rng(_TOY_RING_SEED[split])
  modes = rng.integers(0, cfg["modes"], size=cfg["num"])
  angles = 2 * np.pi * modes / cfg["modes"]
  centres = cfg["radius"] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
  points = centres + cfg["std"] * rng.standard_normal((cfg["num"], 2))
  return Dataset(points.astype(np.float32), modes.astype(np.int32), cfg["modes"],
                 f"toy ring: {cfg['modes']} Gaussians, radius {cfg['radius']}, std {cfg['std']}, "
                 f"seed {_TOY_RING_SEED[split]}")


_LOCAL = {"digits": _digits, "toy_ring": _toy_ring}


# -- Splits -------------------------------------------------------------------------------------

_SPLIT_RE = re.compile(r"^(\w+)(?:\[([^\]:]*):([^\]:]*)\])?$")
_BOUND_RE = re.compile(r"^-?\d+$|^-?\d+(?:\.\d+)?%$")


def _parse_split(split: str) -> tuple[str, tuple[str, str]]:
  """"test[:80%]" -> ("test", ("", "80%")), checked before anything is read."""
  match = _SPLIT_RE.match(split)
  if not match:
    raise ConfigError(f"malformed split {split!r}; expected NAME or NAME[start:stop] with "
                      "integer or percent bounds, e.g. 'test[:8000]', 'train[10%:]'")
  base, start, stop = match.group(1), match.group(2) or "", match.group(3) or ""
  for bound in (start, stop):
    if bound and not _BOUND_RE.match(bound):
      raise ConfigError(f"malformed split {split!r}: bound {bound!r} is neither an integer "
                        "nor a percentage")
  if start and stop and start.endswith("%") != stop.endswith("%"):
    raise ConfigError(f"malformed split {split!r}: mixes percent and absolute bounds")
  return base, (start, stop)


def _check_split(name: str, split: str, known: tuple[str, ...]):
  if split not in known:
    raise ConfigError(f"unknown split {split!r} for {name}; expected one of {list(known)}")


def _apply_slice(dataset: Dataset, bounds: tuple[str, str], split: str) -> Dataset:
  n = len(dataset.labels)
  rows = slice(*(_bound_index(b, n, split) for b in bounds))
  return dataset._replace(images=dataset.images[rows], labels=dataset.labels[rows])


def _bound_index(bound: str, n: int, split: str) -> int | None:
  """As TFDS: percentages round to the closest example; |bound| may not exceed n."""
  if not bound:
    return None
  index = round(float(bound[:-1]) * n / 100) if bound.endswith("%") else int(bound)
  if abs(index) > n:
    raise ConfigError(f"split {split!r}: bound {bound} is outside a split of {n} examples")
  return index
