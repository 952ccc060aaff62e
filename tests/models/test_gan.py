"""GAN models: the compiled gradient's convolutions, parameter counts, initialization, critic
normalization, conditioning and spectral normalization (the layers: models/test_layers.py)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import key
from jaxgen.models import gan
from jaxgen.types import DataSpec


def config(name="mlp", **overrides):
  c = gan.default_config(name)
  c.update(overrides)
  return c


def num_params(tree) -> int:
  return sum(math.prod(p.shape) for p in jax.tree.leaves(tree))


def init(model, x, labels=None):
  """Variables of `model` applied to x, by shape only."""
  return jax.eval_shape(lambda x: model.init(key(0), x, labels, train=False), x)


# ----- Convolutions of the compiled gradients --------------------------------------------------


@pytest.mark.parametrize("phase_transposed_conv", [True, False])
def test_compiled_dcgan_gradient_has_no_reversed_kernel_convolution(phase_transposed_conv):
  """XLA:CPU has no fast kernel for convolutions with rhs_reversal; nn.ConvTranspose's weight
  gradient is one, which the check must see."""
  spec = DataSpec((32, 32, 1), 0)
  generator, discriminator = gan.make(
      config(name="dcgan", base_width=4, phase_transposed_conv=phase_transposed_conv), spec)
  z = jnp.zeros((2, 100))
  g_vars, d_vars = init(generator, z), init(discriminator, jnp.zeros((2, *spec.image_shape)))

  def loss(g_params, d_params, g_stats, d_stats):
    fake, _ = generator.apply({"params": g_params, "batch_stats": g_stats}, z, train=True,
                              mutable=["batch_stats"])
    logits, _ = discriminator.apply({"params": d_params, "batch_stats": d_stats}, fake,
                                    train=True, mutable=["batch_stats"])
    return jnp.mean(logits)

  grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
  hlo = grad.lower(g_vars["params"], d_vars["params"], g_vars["batch_stats"],
                   d_vars["batch_stats"]).compile().as_text()
  assert "convolution(" in hlo
  assert ("rhs_reversal" in hlo) == (not phase_transposed_conv)


@pytest.mark.parametrize("patch_conv", [True, False])
def test_compiled_penalty_gradient_has_no_reversed_kernel_convolution(patch_conv):
  """The WGAN-GP critic update differentiates D's input gradient; with nn.Conv that makes
  XLA:CPU convolutions with rhs_reversal (slow), with PatchConv none."""
  spec = DataSpec((28, 28, 1), 0)
  _, discriminator = gan.make(config(name="infogan", base_width=4, d_norm="none",
                                     patch_conv=patch_conv), spec)
  x = jnp.zeros((2, *spec.image_shape))
  params = init(discriminator, x)["params"]

  def penalty(params, x):
    g = jax.grad(lambda x: jnp.sum(discriminator.apply({"params": params}, x, train=True)))(x)
    return jnp.sum(g ** 2)

  hlo = jax.jit(jax.grad(penalty)).lower(params, x).compile().as_text()
  assert ("rhs_reversal" in hlo) == (not patch_conv)


# ----- Shapes and parameter counts -------------------------------------------------------------


def test_classic_mlp_gan_parameter_counts():
  generator, discriminator = gan.make(config(), DataSpec((28, 28, 1), 10))
  g = (100 * 256 + 256) + (256 * 512 + 512) + (512 * 1024 + 1024) + (1024 * 784 + 784)
  d = (784 * 512 + 512) + (512 * 256 + 256) + (256 * 1 + 1)
  assert (g, d) == (1_486_352, 533_505)
  assert num_params(init(generator, jnp.zeros((1, 100)))) == g
  assert num_params(init(discriminator, jnp.zeros((1, 28, 28, 1)))) == d


@pytest.mark.parametrize("image_shape", [(32, 32, 1), (32, 32, 3), (64, 64, 3)])
def test_dcgan_shapes_and_parameter_counts(image_shape):
  generator, discriminator = gan.make(config(name="dcgan"), DataSpec(image_shape, 10))
  z, x = jnp.zeros((2, 100)), jnp.zeros((2, *image_shape))
  g_vars, d_vars = init(generator, z), init(discriminator, x)
  assert jax.eval_shape(lambda v: generator.apply(v, z, train=False), g_vars).shape == x.shape
  assert jax.eval_shape(lambda v: discriminator.apply(v, x, train=False), d_vars).shape == (2,)

  channels = image_shape[-1]
  widths = [256, 128, 64] if image_shape[0] == 32 else [512, 256, 128, 64]
  # G: bias-free dense and transposed convs where batch norm (scale, shift) follows.
  g = 100 * 16 * widths[0] + 2 * widths[0]
  g += sum(16 * a * b + 2 * b for a, b in zip(widths, widths[1:]))
  g += 16 * widths[-1] * channels + channels
  # D: the first conv has a bias and no batch norm; the last layer is a 4x4 valid conv to 1.
  d_widths = widths[::-1]
  d = 16 * channels * d_widths[0] + d_widths[0]
  d += sum(16 * a * b + 2 * b for a, b in zip(d_widths, d_widths[1:]))
  d += 16 * d_widths[-1] + 1
  if image_shape == (32, 32, 3):
    assert (g, d) == (1_068_931, 663_361)
  assert num_params(g_vars["params"]) == g
  assert num_params(d_vars["params"]) == d


def test_phase_and_flax_generators_share_a_parameter_tree():
  spec = DataSpec((32, 32, 3), 0)
  trees = [jax.tree.map(jnp.shape, init(gan.make(config(name="dcgan", phase_transposed_conv=p),
                                                 spec)[0], jnp.zeros((1, 100))))
           for p in (True, False)]
  assert trees[0] == trees[1]


@pytest.mark.parametrize("overrides", [
    dict(), dict(phase_transposed_conv=False), dict(conditional=True)])
def test_dcgan_init_is_the_papers(overrides):
  """Radford et al. (2016): every convolution and dense weight of G and D ~ N(0, 0.02), batch
  norm scales ~ N(1, 0.02), biases 0 (label embeddings are not DCGAN's, and keep Flax's). Not
  checked with spectral norm: Flax's SpectralNorm stores W / sigma(W) at init, whatever W's
  scale."""
  spec = DataSpec((32, 32, 3), 10)
  generator, discriminator = gan.make(config(name="dcgan", **overrides), spec)
  labels = jnp.zeros((1,), jnp.int32)

  @jax.jit
  def params(key):
    g_key, d_key = jax.random.split(key)
    return {"g": generator.init(g_key, jnp.zeros((1, 100)), labels, train=False)["params"],
            "d": discriminator.init(d_key, jnp.zeros((1, *spec.image_shape)), labels,
                                    train=False)["params"]}

  by_name = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(params(key(0)))[0]:
    by_name.setdefault(path[-1].key, []).append(np.asarray(leaf))
  assert set(by_name) - {"embedding"} == {"kernel", "bias", "scale"}
  assert len(by_name["kernel"]) == 4 + 4  # G: dense + 3 transposed convs; D: 3 convs + psi
  for kernel in by_name["kernel"]:
    assert abs(kernel.std() / 0.02 - 1) < 0.1 and abs(kernel.mean()) < 0.002, kernel.shape
  scales = np.concatenate(by_name["scale"])
  assert abs(scales.mean() - 1) < 0.005 and abs(scales.std() / 0.02 - 1) < 0.1
  assert all(not np.any(bias) for bias in by_name["bias"])


@pytest.mark.parametrize("d_norm", ["batch", "layer", "none"])
def test_dcgan_critic_normalization(d_norm):
  """model.d_norm, from the critic's second layer on. Batch norm mixes the examples of a batch in
  train mode; layer norm and none score each example alone."""
  spec = DataSpec((32, 32, 1), 0)
  _, discriminator = gan.make(config(name="dcgan", base_width=4, d_norm=d_norm), spec)
  x = jax.random.normal(key(0), (3, *spec.image_shape))
  variables = jax.jit(lambda k: discriminator.init(k, x, train=True))(key(1))
  layers = {k for k in variables["params"]["features"] if "Norm" in k}
  expected = {"batch": {"BatchNorm_0", "BatchNorm_1"}, "layer": {"LayerNorm_0", "LayerNorm_1"},
              "none": set()}
  assert layers == expected[d_norm]
  assert ("batch_stats" in variables) == (d_norm == "batch")

  def scores(x):
    return discriminator.apply(variables, x, train=True, mutable=["batch_stats"])[0]

  jacobian = np.asarray(jax.jit(jax.jacrev(scores))(x)).reshape(3, 3, -1)
  across = max(np.abs(jacobian[i, j]).max() for i in range(3) for j in range(3) if i != j)
  assert (across > 1e-4 * np.abs(jacobian).max()) == (d_norm == "batch")


def test_unknown_critic_normalization_is_named():
  with pytest.raises(ValueError, match="d_norm"):
    gan.make(config(name="dcgan", d_norm="group"), DataSpec((32, 32, 1), 0))


# ----- Conditioning ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "dcgan"])
def test_conditional_models_depend_on_the_label(name):
  spec = DataSpec((32, 32, 1), 10)
  generator, discriminator = gan.make(
      config(name=name, conditional=True, hidden_g=(16,), hidden_d=(16,), base_width=4), spec)
  z = jnp.tile(jax.random.normal(key(0), (1, 100)), (2, 1))
  x = jnp.tile(jax.random.normal(key(1), (1, *spec.image_shape)), (2, 1, 1, 1))
  labels = jnp.array([0, 1])

  @jax.jit
  def images_and_logits(key):
    g_key, d_key = jax.random.split(key)
    images = generator.apply(generator.init(g_key, z, labels, train=False), z, labels,
                             train=False)
    logits = discriminator.apply(discriminator.init(d_key, x, labels, train=False), x, labels,
                                 train=False)
    return images, logits

  images, logits = images_and_logits(key(2))
  # Relative: DCGAN's N(0, 0.02) weights make both small at init.
  assert float(jnp.max(jnp.abs(images[0] - images[1]))) > 1e-2 * float(jnp.max(jnp.abs(images)))
  assert float(jnp.abs(logits[0] - logits[1])) > 1e-2 * float(jnp.max(jnp.abs(logits)))
  with pytest.raises(ValueError, match="needs labels"):
    init(generator, z)


# ----- Spectral normalization ------------------------------------------------------------------


def power_iterate(discriminator, x, labels, steps):
  """Variables after `steps` training-mode applications to a fixed batch with fixed params."""

  @jax.jit
  def run(key):
    variables = discriminator.init(key, x, labels, train=False)

    def body(_, stats):
      _, updates = discriminator.apply({**variables, "batch_stats": stats}, x, labels,
                                       train=True, mutable=["batch_stats"])
      return updates["batch_stats"]

    return {**variables, "batch_stats": jax.lax.fori_loop(0, steps, body,
                                                          variables["batch_stats"])}

  return run(key(0))


def sigmas_and_weights(variables):
  """(sigma, the weight it normalises) for each spectrally normalised weight. SpectralNorm keeps
  `<layer>/<param>/sigma` under its own scope; the weight sits beside it in params."""
  pairs = []
  for path, sigma in jax.tree_util.tree_flatten_with_path(variables["batch_stats"])[0]:
    keys = [k.key for k in path]
    if keys[-1].endswith("/sigma"):
      weight = variables["params"]
      for k in keys[:-2] + keys[-1].split("/")[:-1]:  # drops SpectralNorm_i and "sigma"
        weight = weight[k]
      pairs.append((float(sigma), np.asarray(weight)))
  return pairs


def test_spectral_norm_normalises_every_weight_to_unit_top_singular_value():
  spec = DataSpec((32, 32, 3), 10)
  _, discriminator = gan.make(
      config(name="dcgan", base_width=4, spectral_norm=True, d_norm="none", conditional=True),
      spec)
  x = jax.random.normal(key(1), (2, *spec.image_shape))
  pairs = sigmas_and_weights(power_iterate(discriminator, x, jnp.array([0, 1]), steps=1000))
  assert len(pairs) == 3 + 2  # the convs, psi and the projection embedding
  for sigma, weight in pairs:
    matrix = weight.reshape(-1, weight.shape[-1]) / sigma
    np.testing.assert_allclose(np.linalg.svd(matrix, compute_uv=False)[0], 1.0, rtol=1e-3)


def test_spectral_norm_forward_pass_uses_the_normalised_weights():
  _, discriminator = gan.make(config(hidden_d=(16,), spectral_norm=True), DataSpec((2,), 0))
  x = jax.random.normal(key(1), (8, 2))
  variables = power_iterate(discriminator, x, None, steps=100)
  p = variables["params"]
  top = lambda w: np.linalg.svd(np.asarray(w), compute_uv=False)[0]
  w1, w2 = p["features"]["Dense_0"]["kernel"], p["Dense_0"]["kernel"]
  h = np.maximum(np.asarray(x) @ (w1 / top(w1)) + p["features"]["Dense_0"]["bias"], 0)
  expected = (h @ (w2 / top(w2)) + p["Dense_0"]["bias"])[:, 0]
  logits = jax.jit(lambda v: discriminator.apply(v, x, train=False))(variables)
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-6)
