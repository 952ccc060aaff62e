"""GAN generators and discriminators: the classic MLP GAN, DCGAN and the InfoGAN-style networks
of Lucic et al. (2018), optionally class-conditional (label embedding in G, projection
discriminator) and with spectral normalization in D; the DCGAN critic normalizes by batch norm,
layer norm or nothing (model.d_norm), the InfoGAN one by batch norm or nothing.

Generator `(z [B, latent], labels [B] | None, *, train) -> [B, *image_shape]`; discriminator
`(x [B, *image_shape], labels [B] | None, *, train) -> logits [B]`. `labels` is read only by
conditional models. Mutable state, all in the "batch_stats" collection (so a method threads one
collection; apply with `mutable=["batch_stats"]` when train=True): batch-norm statistics (DCGAN)
and spectral norm's power-iteration vectors `u` and estimates `sigma` (updated only when train).
Modules are deterministic: the method draws the noise.
"""

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import registry
from jaxgen.models.layers import PatchConv, PhaseConvTranspose
from jaxgen.types import ModelSpec

OUTPUTS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": nn.sigmoid,  # the classic: data in [0, 1]
    "tanh": jnp.tanh,       # data in [-1, 1]
    "linear": lambda h: h,  # 2-D toy points
}


def _apply(layer: nn.Module, x: jax.Array, *, spectral_norm: bool, train: bool) -> jax.Array:
  """`layer(x)`, with its weights divided by their top singular value when spectral_norm."""
  if spectral_norm:
    return nn.SpectralNorm(layer)(x, update_stats=train)
  return layer(x)


# Radford et al. (2016): weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), biases 0 (Flax's
# default for biases). Used by every DCGAN convolution and dense layer, psi included.
_DCGAN_KERNEL_INIT = nn.initializers.normal(0.02)


def _dcgan_scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + _DCGAN_KERNEL_INIT(key, shape, dtype)


def _batch_norm(train: bool) -> nn.BatchNorm:
  # PyTorch DCGAN's defaults (momentum 0.1 there is 0.9 here).
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                      scale_init=_dcgan_scale_init)


def _layer_norm(train: bool) -> nn.LayerNorm:
  del train  # per example: the same in both modes
  # tflib's Layernorm in Gulrajani et al.'s critics: over each example's (H, W, C), a scale and
  # an offset per channel, epsilon 1e-5.
  return nn.LayerNorm(epsilon=1e-5, reduction_axes=(-3, -2, -1), feature_axes=-1)


# model.d_norm -> the normalization layer of the DCGAN critic (None: none).
CRITIC_NORMS: dict[str, Callable[[bool], nn.Module] | None] = {
    "batch": _batch_norm,  # DCGAN's
    "layer": _layer_norm,  # Gulrajani et al.'s ResNet and 64x64 critics: per-example penalties
    "none": None,          # Gulrajani et al.'s MNIST critic; Miyato et al.'s spectral-norm critics
}


class Generator(nn.Module):
  """Conditions `body` on the label by concatenating a learned embedding (width latent_dim) with
  z. Chosen over conditional batch norm because it serves both families (the MLP has no batch
  norm) and keeps the body's parameters those of the unconditional model."""
  body: nn.Module  # [B, in] -> [B, *image_shape]
  num_classes: int  # 0: unconditional

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    if self.num_classes:
      if labels is None:
        raise ValueError("a conditional generator needs labels")
      z = jnp.concatenate([z, nn.Embed(self.num_classes, z.shape[-1])(labels)], axis=-1)
    return self.body(z, train=train)


class Discriminator(nn.Module):
  """logit = psi(phi(x)) [+ <embed(y), phi(x)>, the projection discriminator of Miyato & Koyama
  (2018) when conditional]; phi is `features`, psi a dense layer. Spectral norm, when on, also
  covers psi and the embedding, as in their code."""
  features: nn.Module  # [B, *image_shape] -> phi(x) [B, F]
  num_classes: int  # 0: unconditional
  spectral_norm: bool
  psi_init: Callable = nn.initializers.lecun_normal()  # psi's weights (Flax's Dense default)

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    h = self.features(x, train=train)
    psi = nn.Dense(1, kernel_init=self.psi_init)
    logits = _apply(psi, h, spectral_norm=self.spectral_norm, train=train)[:, 0]
    if self.num_classes:
      if labels is None:
        raise ValueError("a conditional discriminator needs labels")
      embed = nn.Embed(self.num_classes, h.shape[-1])
      logits += jnp.sum(_apply(embed, labels, spectral_norm=self.spectral_norm, train=train) * h,
                        axis=-1)
    return logits


class MLPGenerator(nn.Module):
  hidden: Sequence[int]
  out_shape: tuple[int, ...]
  output: str  # a key of OUTPUTS

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    del train  # no batch norm or dropout
    h = z
    for width in self.hidden:
      h = nn.relu(nn.Dense(width)(h))
    h = nn.Dense(math.prod(self.out_shape))(h)
    return OUTPUTS[self.output](h).reshape(z.shape[0], *self.out_shape)


class MLPFeatures(nn.Module):
  hidden: Sequence[int]
  spectral_norm: bool

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    h = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      h = nn.relu(_apply(nn.Dense(width), h, spectral_norm=self.spectral_norm, train=train))
    return h


def _dcgan_widths(image_shape: tuple[int, ...], base_width: int) -> list[int]:
  """Channels of the 4x4, 8x8, ... feature maps of G (reversed for D): [256, 128, 64] at 32x32,
  [512, 256, 128, 64] at 64x64 for base_width 64."""
  if len(image_shape) != 3 or image_shape[0] != image_shape[1] or image_shape[0] not in (32, 64):
    raise ValueError(f"DCGAN supports 32x32 and 64x64 images, got {image_shape} "
                     "(pad the data, e.g. 28x28 -> 32x32)")
  stages = int(math.log2(image_shape[0])) - 2
  return [base_width * 2 ** i for i in reversed(range(stages))]


class DCGANGenerator(nn.Module):
  """Radford et al. (2016): z -> 4x4 -> ... -> HxWxC by 4x4 stride-2 transposed convolutions,
  batch norm + ReLU, tanh output; the paper's initialization. Biases are dropped where batch
  norm's shift follows."""
  widths: Sequence[int]
  channels: int
  phase_transposed_conv: bool  # PhaseConvTranspose (fast on CPU) or nn.ConvTranspose, same params

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    # A dense layer == a 4x4 transposed convolution of the 1x1 input z.
    h = nn.Dense(4 * 4 * self.widths[0], use_bias=False, kernel_init=_DCGAN_KERNEL_INIT)(z)
    h = h.reshape(-1, 4, 4, self.widths[0])
    h = nn.relu(_batch_norm(train)(h))
    for i, features in enumerate([*self.widths[1:], self.channels]):
      last = i == len(self.widths) - 1
      # Named explicitly so both implementations give the same parameter tree.
      if self.phase_transposed_conv:
        up = PhaseConvTranspose(features, use_bias=last, kernel_init=_DCGAN_KERNEL_INIT,
                                name=f"up{i}")
      else:
        up = nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME", use_bias=last,
                              kernel_init=_DCGAN_KERNEL_INIT, name=f"up{i}")
      h = up(h)
      h = jnp.tanh(h) if last else nn.relu(_batch_norm(train)(h))
    return h


class DCGANFeatures(nn.Module):
  """The mirrored discriminator trunk: stride-2 convolutions (4x4 in DCGAN) down to 4x4,
  LeakyReLU 0.2, normalization (`norm`, a key of CRITIC_NORMS) from the second layer on;
  flattened, so psi is the final 4x4 valid convolution. Biases are dropped where batch norm's
  shift follows (layer norm's per-channel offset does not make them redundant: it normalizes
  over the channels too). Spectral norm is independent of `norm`."""
  widths: Sequence[int]  # in order of application: [64, 128, 256] at 32x32
  spectral_norm: bool
  norm: str
  kernel_size: int

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    h = x
    for i, features in enumerate(self.widths):
      norm = CRITIC_NORMS[self.norm] if i > 0 else None
      conv = nn.Conv(features, (self.kernel_size,) * 2, strides=(2, 2), padding="SAME",
                     use_bias=norm is not _batch_norm, kernel_init=_DCGAN_KERNEL_INIT)
      h = _apply(conv, h, spectral_norm=self.spectral_norm, train=train)
      if norm is not None:
        h = norm(train)(h)
      h = nn.leaky_relu(h, 0.2)
    return h.reshape(h.shape[0], -1)


# Lucic et al. (2018), google/compare_gan v1 (gans/ops.py): dense and transposed-convolution
# weights ~ N(0, 0.02), convolution weights ~ N(0, 0.02) truncated at two standard deviations
# (tf.truncated_normal_initializer, which jax's truncated_normal matches: stddev is that of the
# untruncated normal), biases 0, batch norm with scale 1 and offset 0.
_INFOGAN_CONV_INIT = nn.initializers.truncated_normal(0.02)


def _infogan_batch_norm(train: bool) -> nn.BatchNorm:
  # tf.contrib.layers.batch_norm(decay=0.999, epsilon=0.001, scale=True) as compare_gan's
  # ops.batch_norm calls it; Flax's momentum is TF's decay.
  return nn.BatchNorm(use_running_average=not train, momentum=0.999, epsilon=1e-3)


class InfoGANGenerator(nn.Module):
  """z -> dense 16w, BN, lReLU -> dense (H/4)(W/4)2w, BN, lReLU -> 4x4 stride-2 transposed conv
  w, BN, lReLU -> 4x4 stride-2 transposed conv C -> `output`; w = 64 gives compare_gan's
  1024, 7x7x128, 14x14x64, 28x28xC. LeakyReLU 0.2 throughout, as compare_gan's code (the
  original InfoGAN's generator has ReLU). Every layer keeps its bias, batch norm or not, as
  compare_gan's does (so the parameter counts are the study's)."""
  width: int
  out_shape: tuple[int, int, int]
  output: str  # a key of OUTPUTS
  phase_transposed_conv: bool  # PhaseConvTranspose (fast on CPU) or nn.ConvTranspose

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    height, width, channels = self.out_shape
    act = lambda h: nn.leaky_relu(_infogan_batch_norm(train)(h), 0.2)
    h = act(nn.Dense(16 * self.width, kernel_init=_DCGAN_KERNEL_INIT)(z))
    h = act(nn.Dense(height // 4 * width // 4 * 2 * self.width, kernel_init=_DCGAN_KERNEL_INIT)(h))
    h = h.reshape(z.shape[0], height // 4, width // 4, 2 * self.width)
    for i, features in enumerate((self.width, channels)):
      # Equal to tf.nn.conv2d_transpose(padding="SAME") with the kernel flipped in both spatial
      # axes (and its two channel axes swapped): the same functions, and the same N(0, 0.02)
      # distribution at init (tests/configs/test_lucic_gan.py checks both against TensorFlow).
      if self.phase_transposed_conv:
        up = PhaseConvTranspose(features, kernel_init=_DCGAN_KERNEL_INIT, name=f"up{i}")
      else:
        up = nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME",
                              kernel_init=_DCGAN_KERNEL_INIT, name=f"up{i}")
      h = up(h)
      h = act(h) if i == 0 else OUTPUTS[self.output](h)
    return h


class InfoGANFeatures(nn.Module):
  """x -> 4x4 stride-2 conv w, lReLU -> 4x4 stride-2 conv 2w, [BN], lReLU -> dense 16w, [BN],
  lReLU (LeakyReLU 0.2, SAME padding, biases everywhere); psi, the dense layer to the logit,
  follows in `Discriminator`. w = 64 gives compare_gan's 64, 128, 1024."""
  width: int
  batch_norm: bool  # compare_gan's `discriminator_batchnorm` (never on the first layer)
  spectral_norm: bool
  patch_conv: bool  # PatchConv (fast penalty gradients on CPU) or nn.Conv, same params

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    def layer(module, h, norm):
      h = _apply(module, h, spectral_norm=self.spectral_norm, train=train)
      return nn.leaky_relu(_infogan_batch_norm(train)(h) if norm else h, 0.2)

    def conv(features, name):  # named, so both implementations give the same parameter tree
      if self.patch_conv:
        return PatchConv(features, 4, 2, kernel_init=_INFOGAN_CONV_INIT, name=name)
      return nn.Conv(features, (4, 4), strides=(2, 2), padding="SAME",
                     kernel_init=_INFOGAN_CONV_INIT, name=name)

    h = layer(conv(self.width, "conv0"), x, False)
    h = layer(conv(2 * self.width, "conv1"), h, self.batch_norm)
    h = h.reshape(h.shape[0], -1)
    return layer(nn.Dense(16 * self.width, kernel_init=_DCGAN_KERNEL_INIT), h, self.batch_norm)


def _num_classes(c: ml_collections.ConfigDict, spec: ModelSpec) -> int:
  if c.conditional and spec.num_classes < 1:
    raise ValueError("model.conditional needs a labelled dataset (spec.num_classes > 0)")
  return spec.num_classes if c.conditional else 0


def mlp(c: ml_collections.ConfigDict, spec: ModelSpec) -> tuple[nn.Module, nn.Module]:
  """The classic MLP GAN: z -> 256 -> 512 -> 1024 -> image and image -> 512 -> 256 -> 1, ReLU
  hidden units (Goodfellow et al. 2014 used maxout in D)."""
  if c.output not in OUTPUTS:
    raise ValueError(f"model.output {c.output!r}: expected one of {sorted(OUTPUTS)}")
  num_classes = _num_classes(c, spec)
  generator = Generator(MLPGenerator(tuple(c.hidden_g), tuple(spec.image_shape), c.output),
                        num_classes)
  features = MLPFeatures(tuple(c.hidden_d), c.spectral_norm)
  return generator, Discriminator(features, num_classes, c.spectral_norm)


def dcgan(c: ml_collections.ConfigDict, spec: ModelSpec) -> tuple[nn.Module, nn.Module]:
  """DCGAN at 32x32 or 64x64 (from spec.image_shape); data in [-1, 1] (tanh output). Radford et
  al.'s initialization throughout; the conditional models' label embeddings are not DCGAN's and
  keep Flax's."""
  if c.d_norm not in CRITIC_NORMS:
    raise ValueError(f"model.d_norm {c.d_norm!r}: expected one of {sorted(CRITIC_NORMS)}")
  widths = _dcgan_widths(tuple(spec.image_shape), c.base_width)
  num_classes = _num_classes(c, spec)
  body = DCGANGenerator(tuple(widths), spec.image_shape[-1], c.phase_transposed_conv)
  features = DCGANFeatures(tuple(reversed(widths)), c.spectral_norm, c.d_norm, c.d_kernel_size)
  return Generator(body, num_classes), Discriminator(features, num_classes, c.spectral_norm,
                                                    _DCGAN_KERNEL_INIT)


def infogan(c: ml_collections.ConfigDict, spec: ModelSpec) -> tuple[nn.Module, nn.Module]:
  """The InfoGAN-style G and D of Lucic et al. (2018) as google/compare_gan v1 builds them for
  28x28 MNIST and Fashion-MNIST (H and W divisible by 4): widths from model.base_width (64: the
  study's), batch norm in G always and in D's second and third layers when model.d_norm is
  "batch" (off: "none"; the study searched both, and fixed it off for WGAN-GP), model.output
  (the study's sigmoid, for data in [0, 1]). The study's initialization throughout; the
  conditional models' label embeddings are not the study's and keep Flax's."""
  if c.output not in OUTPUTS:
    raise ValueError(f"model.output {c.output!r}: expected one of {sorted(OUTPUTS)}")
  if c.d_norm not in ("batch", "none"):
    raise ValueError(f"model.d_norm {c.d_norm!r}: the infogan discriminator takes 'batch' or "
                     "'none'")
  shape = tuple(spec.image_shape)
  if len(shape) != 3 or shape[0] % 4 or shape[1] % 4:
    raise ValueError(f"infogan needs [H, W, C] images with H and W divisible by 4, got {shape}")
  num_classes = _num_classes(c, spec)
  body = InfoGANGenerator(c.base_width, shape, c.output, c.phase_transposed_conv)
  features = InfoGANFeatures(c.base_width, c.d_norm == "batch", c.spectral_norm, c.patch_conv)
  return Generator(body, num_classes), Discriminator(features, num_classes, c.spectral_norm,
                                                    _DCGAN_KERNEL_INIT)


# name -> builder(config.model, spec) -> (generator, discriminator).
MODELS: dict[str, Callable[[ml_collections.ConfigDict, ModelSpec], tuple[nn.Module, nn.Module]]] = {
    "mlp": mlp,
    "dcgan": dcgan,
    "infogan": infogan,
}


# name -> the keys its builder reads, with defaults (latent_dim, z's size, is also read by the
# method; `conditional` feeds labels to both networks).
_COMMON = dict(latent_dim=100, conditional=False, spectral_norm=False)  # spectral norm: in D
DEFAULTS = {
    "mlp": dict(**_COMMON, hidden_g=(256, 512, 1024), hidden_d=(512, 256),
                output="sigmoid"),  # a key of OUTPUTS
    "dcgan": dict(**_COMMON, base_width=64,
                  d_norm="batch",   # D's normalization from its second layer on: CRITIC_NORMS
                  d_kernel_size=4,  # D's convolutions (5 in Gulrajani et al.'s critics)
                  phase_transposed_conv=True),
    "infogan": dict(**_COMMON, base_width=64,  # w: convs w and 2w, dense 16w
                    output="sigmoid",
                    d_norm="batch",  # "batch" or "none"
                    phase_transposed_conv=True,
                    patch_conv=True),  # D's convolutions as layers.PatchConv or nn.Conv
}


def default_config(name: str = "mlp") -> ml_collections.ConfigDict:
  return registry.model_config(name, DEFAULTS)


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> tuple[nn.Module, nn.Module]:
  """`config.model` -> (generator, discriminator); c.name is a key of MODELS or a
  "module:builder" path."""
  return registry.resolve(c.name, MODELS, kind="model")(c, spec)
