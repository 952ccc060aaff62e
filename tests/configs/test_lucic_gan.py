"""configs/lucic_gan.py against Lucic et al. (2018)'s protocol (google/compare_gan v1): the
InfoGAN-style networks' parameter counts from their layer shapes, shapes, range and
initialization, the transposed convolution against TensorFlow's, the sigmoid LSGAN loss, the
uniform prior, the update budget, and every variant's tiny training a step on 1 and 8 devices."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import load_config, run_cli
from jaxgen import losses
from jaxgen import train
from jaxgen.methods import gan, latent
from jaxgen.types import DataSpec
from jaxgen.models import gan as gan_models
from jaxgen.models.layers import PhaseConvTranspose

SPEC = DataSpec((28, 28, 1), 10)
VARIANTS = [f"{d},{l}" for d in ("mnist", "fashion_mnist")
            for l in ("minimax", "non_saturating", "lsgan", "wgan_gp")]


def key(seed: int) -> jax.Array:
  return jax.random.key(seed, impl="rbg")  # fast to compile on XLA:CPU


def num_params(tree) -> int:
  return sum(math.prod(p.shape) for p in jax.tree.leaves(tree))


def _variables(variant: str, batch: int = 2):
  """Shapes of the full-size generator's and discriminator's variables."""
  generator, discriminator = gan_models.make(load_config("lucic_gan", variant).model, SPEC)
  g = jax.eval_shape(lambda: generator.init(key(0), jnp.zeros((batch, 64)), train=False))
  d = jax.eval_shape(lambda: discriminator.init(key(0), jnp.zeros((batch, 28, 28, 1)),
                                                train=False))
  return g, d


# ----- Architecture ----------------------------------------------------------------------------


def test_parameter_counts_equal_the_layer_shapes():
  """compare_gan's InfoGAN networks for 28x28x1 and z of 64: every layer with its bias, batch
  norm's scale and offset counted as parameters, its moving mean and variance as batch_stats."""
  dense = lambda n_in, n_out: n_in * n_out + n_out
  conv = lambda n_in, n_out: 4 * 4 * n_in * n_out + n_out
  bn = lambda n: 2 * n
  g = (dense(64, 1024) + bn(1024) + dense(1024, 7 * 7 * 128) + bn(7 * 7 * 128)
       + conv(128, 64) + bn(64) + conv(64, 1))
  d_without_bn = conv(1, 64) + conv(64, 128) + dense(7 * 7 * 128, 1024) + dense(1024, 1)
  d_with_bn = d_without_bn + bn(128) + bn(1024)
  # The research note's figures (runs/notes/lucic_spec.md), computed the same way by hand.
  assert (g, d_without_bn, d_with_bn) == (6_642_241, 6_556_865, 6_559_169)

  g_vars, d_vars = _variables("mnist,non_saturating")
  assert num_params(g_vars["params"]) == g and num_params(d_vars["params"]) == d_with_bn
  assert num_params(g_vars["batch_stats"]) == bn(1024) + bn(6272) + bn(64)
  assert num_params(d_vars["batch_stats"]) == bn(128) + bn(1024)
  g_vars, d_vars = _variables("mnist,wgan_gp")  # batch norm off in D
  assert num_params(g_vars["params"]) == g
  assert num_params(d_vars["params"]) == d_without_bn and "batch_stats" not in d_vars


@pytest.fixture(scope="module")
def full_size():
  """The full-size networks of mnist,non_saturating, initialized, and their outputs on a batch
  of uniform latents and on a batch of those samples."""
  generator, discriminator = gan_models.make(load_config("lucic_gan", "").model, SPEC)

  @jax.jit
  def run(k):
    g_key, d_key, z_key = jax.random.split(k, 3)
    z = latent.uniform_pm1(z_key, (8, 64))
    g_vars = generator.init(g_key, z, train=False)
    images = generator.apply(g_vars, z, train=False)
    trained_mode, _ = generator.apply(g_vars, z, train=True, mutable=["batch_stats"])
    d_vars = discriminator.init(d_key, images, train=False)
    return g_vars, d_vars, images, trained_mode, discriminator.apply(d_vars, images, train=False)

  return jax.device_get(run(key(0)))


def test_outputs_are_28x28x1_images_in_unit_range_and_one_logit_each(full_size):
  _, _, images, train_mode_images, logits = full_size
  for x in (images, train_mode_images):
    assert x.shape == (8, 28, 28, 1) and x.min() >= 0.0 and x.max() <= 1.0
    assert x.std() > 0  # not a constant image
  assert logits.shape == (8,) and np.all(np.isfinite(logits))


def test_init_is_the_studys(full_size):
  """compare_gan's ops: dense and transposed-conv weights N(0, 0.02); conv weights N(0, 0.02)
  truncated at ±2σ (std 0.02 · 0.880); biases 0; batch norm scale 1, offset 0; moving
  statistics 0 and 1."""
  g_vars, d_vars, *_ = full_size
  leaves = {}
  for net, variables in (("g", g_vars), ("d", d_vars)):
    for path, leaf in jax.tree_util.tree_flatten_with_path(variables["params"])[0]:
      leaves["/".join([net, *(p.key for p in path)])] = np.asarray(leaf)
  truncated_std = 0.02 * math.sqrt(1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi)
                                   / math.erf(math.sqrt(2)))
  kernels = {k: v for k, v in leaves.items() if k.endswith("kernel")}
  assert len(kernels) == 4 + 4
  for name, w in kernels.items():
    conv = "/conv" in name
    expected = truncated_std if conv else 0.02
    assert abs(w.std() / expected - 1) < 0.1 and abs(w.mean()) < 0.003, name
    assert (np.abs(w).max() <= 0.04) == conv, name
  for name, v in leaves.items():
    if name.endswith("bias"):
      assert not np.any(v), name  # biases and batch norm offsets
    elif name.endswith("scale"):
      assert np.all(v == 1.0), name
  stats = jax.tree_util.tree_flatten_with_path(g_vars["batch_stats"])[0]
  for path, v in stats:
    assert np.all(v == (1.0 if path[-1].key == "var" else 0.0))


def test_batch_norm_is_tensorflows_decay_0999_eps_1e3():
  """One train-mode pass moves the moving mean by (1 - 0.999) of the batch mean and normalizes by
  sqrt(batch variance + 1e-3)."""
  bn = gan_models._infogan_batch_norm(train=True)
  x = jnp.full((4, 3), 2.0).at[:, 0].set(jnp.array([0.0, 1.0, 2.0, 3.0]))
  variables = bn.init(key(0), x)
  y, updated = bn.apply(variables, x, mutable=["batch_stats"])
  np.testing.assert_allclose(updated["batch_stats"]["mean"], 0.001 * np.array([1.5, 2.0, 2.0]),
                             rtol=1e-5)
  np.testing.assert_allclose(y[:, 0], (np.arange(4) - 1.5) / np.sqrt(1.25 + 1e-3), rtol=1e-5)


@pytest.mark.parametrize("height", [7, 14])
def test_transposed_conv_is_tensorflows_with_the_kernel_flipped(height):
  """compare_gan's deconv2d is tf.nn.conv2d_transpose(padding="SAME", stride 2) with a kernel
  [kh, kw, out, in]; PhaseConvTranspose (and nn.ConvTranspose) computes it with that kernel
  flipped in both spatial axes and its channel axes swapped: 7 -> 14 -> 28, same functions."""
  tf = pytest.importorskip("tensorflow")
  in_features, features = 5, 3
  x = np.asarray(jax.random.normal(key(0), (2, height, height, in_features)))
  layer = PhaseConvTranspose(features)
  params = jax.jit(layer.init)(key(1), x)["params"]
  params["bias"] = np.asarray(jax.random.normal(key(2), (features,)))
  ours = np.asarray(jax.jit(layer.apply)({"params": params}, x))
  tf_kernel = np.asarray(params["kernel"])[::-1, ::-1].transpose(0, 1, 3, 2)
  theirs = tf.nn.conv2d_transpose(x, tf_kernel, (2, 2 * height, 2 * height, features),
                                  strides=2, padding="SAME").numpy() + params["bias"]
  assert ours.shape == (2, 2 * height, 2 * height, features)
  np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


# ----- Loss and prior --------------------------------------------------------------------------


def test_lsgan_sigmoid_is_least_squares_on_the_sigmoid():
  """compare_gan's LSGAN: d = ½(σ(ℓ_r) - 1)² + ½σ(ℓ_f)², g = ½(σ(ℓ_f) - 1)², and g's gradient
  (σ - 1)·σ(1 - σ), which vanishes as σ saturates at either end."""
  real = np.array([-3.0, -0.5, 0.0, 1.2, 4.0])
  fake = np.array([2.0, 0.3, -1.0, -2.5, 0.0])
  s = lambda x: 1.0 / (1.0 + np.exp(-x))
  pair = losses.get_gan_loss("lsgan_sigmoid")
  r, f = jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
  np.testing.assert_allclose(pair.d(r, f), 0.5 * (s(real) - 1) ** 2 + 0.5 * s(fake) ** 2,
                             rtol=1e-6)
  np.testing.assert_allclose(pair.g(f), 0.5 * (s(fake) - 1) ** 2, rtol=1e-6)
  # At ℓ = 0 (σ = ½): d = ⅛ + ⅛, g = ⅛.
  assert float(pair.d(r, f)[2]) == pytest.approx(0.5 * 0.25 + 0.5 * s(-1.0) ** 2)
  assert float(pair.g(f)[4]) == pytest.approx(0.125)
  grad = jax.grad(lambda x: jnp.sum(pair.g(x)))(f)
  np.testing.assert_allclose(grad, (s(fake) - 1) * s(fake) * (1 - s(fake)), rtol=1e-5)
  assert not pair.gradient_penalty


def _method(prior: str):
  c = load_config("lucic_gan", "tiny")
  c.gan.prior = prior
  method = gan.make(c, SPEC)
  batch = {"image": jnp.zeros((4, 28, 28, 1)), "label": jnp.zeros((4,), jnp.int32)}
  return c, method, jax.jit(method.init)(key(0), batch)


def test_uniform_prior_draws_from_the_cube_and_normal_stays_the_default():
  assert gan.default_method_config().gan.prior == "normal"
  z = np.asarray(latent.PRIORS["uniform"](jax.random.key(0), (4096, 16)))
  assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.02 and abs(z.var() - 1 / 3) < 0.01
  for prior, draw in (("uniform", latent.uniform_pm1), ("normal", jax.random.normal)):
    c, method, state = _method(prior)
    nets = gan._Networks(c, SPEC)
    k = jax.random.key(1)
    z = draw(k, (6, c.model.latent_dim))
    np.testing.assert_array_equal(method.sample(state, k, 6),
                                  nets.generate(state, z, jnp.zeros(6, jnp.int32)))
  with pytest.raises(ValueError, match="gan.prior"):
    _method("laplace")


def test_uniform_interpolation_is_a_straight_line_inside_the_cube():
  z = latent.interpolation_grid(jax.random.key(0), 3, 5, 8, "uniform").reshape(3, 5, 8)
  np.testing.assert_allclose(z[:, 2], (z[:, 0] + z[:, 4]) / 2, rtol=1e-6, atol=1e-6)
  assert float(jnp.abs(z).max()) <= 1.0
  # The default (normal) walk is the slerp it was.
  normal = latent.interpolation_grid(jax.random.key(0), 3, 5, 8)
  z0, z1 = jax.random.normal(jax.random.key(0), (2, 3, 1, 8))
  np.testing.assert_array_equal(
      normal, latent.slerp(z0, z1, jnp.linspace(0, 1, 5)[None, :, None]).reshape(15, 8))


# ----- The protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_config_is_the_studys_protocol(variant):
  dataset, loss = variant.split(",")
  c = load_config("lucic_gan", variant)
  n_critic = c.gan.n_critic
  # 15,625 D updates of 64 real images; a G update per n_critic of them, on 64 latents.
  assert (c.num_steps * n_critic, c.batch_size // n_critic, c.num_steps) == (
      15_625, 64, 15_625 // n_critic)
  assert (c.data.name, c.data.train_split, c.data.eval_split, c.data.preprocess) == (
      dataset, "train", "test", "scale01")
  assert (c.model.name, c.model.latent_dim, c.model.base_width, c.model.output,
          c.gan.prior) == ("infogan", 64, 64, "sigmoid", "uniform")
  assert c.optimizer.to_dict() == c.d_optimizer.to_dict()
  assert (c.optimizer.name, c.optimizer.b2, c.optimizer.b1) == ("adam", 0.999, 0.5)
  expected = {"minimax": ("minimax", 1, "batch", 2e-4), "non_saturating":
              ("non_saturating", 1, "batch", 2e-4), "lsgan": ("lsgan_sigmoid", 1, "batch", 2e-4),
              "wgan_gp": ("wgan_gp", 5, "none", 1e-4)}[loss]
  assert (c.loss, n_critic, c.model.d_norm, c.optimizer.lr) == expected
  assert c.gan.gp_weight == 10.0 and c.gan.ema_decay == 0.0
  tiny = load_config("lucic_gan", f"{variant},tiny")
  assert (tiny.loss, tiny.gan.n_critic, tiny.data.name) == (c.loss, n_critic, dataset)


def test_variant_parsing():
  assert load_config("lucic_gan", "").loss == "non_saturating"
  assert load_config("lucic_gan", "wgan_gp,fashion_mnist").data.name == "fashion_mnist"
  for bad in ("cifar10", "mnist,fashion_mnist", "lsgan,wgan_gp"):
    with pytest.raises(ValueError, match="lucic_gan"):
      load_config("lucic_gan", bad)


# ----- Training a step -------------------------------------------------------------------------


def _one_step(config):
  config.num_steps = 1
  return config


def test_every_tiny_variant_trains_a_step(tmp_path):
  for variant in VARIANTS:
    c = _one_step(load_config("lucic_gan", f"{variant},tiny"))
    state, summary = train.train_and_evaluate(c, str(tmp_path / variant))
    assert int(state.step) == 1 and np.isfinite(summary["train"]["train/loss"]), variant
    assert os.path.exists(tmp_path / variant / "samples" / "step_000001.png"), variant


EIGHT_DEVICES = """
import importlib.util, json, sys
import jax
from jaxgen import train
spec = importlib.util.spec_from_file_location("lucic_gan", "configs/lucic_gan.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
out = {"devices": jax.device_count()}
for variant in sys.argv[2:]:
  c = module.get_config(variant + ",tiny")
  c.num_steps = 1
  state, summary = train.train_and_evaluate(c, sys.argv[1] + "/" + variant)
  out[variant] = [int(state.step), summary["train"]["train/loss"]]
print("RESULT " + json.dumps(out))
"""


def test_every_tiny_variant_trains_a_step_on_8_devices(tmp_path):
  """One process for all variants (a process start costs more than a tiny step)."""
  proc = run_cli("-c", EIGHT_DEVICES, str(tmp_path), *VARIANTS,
                 env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
  result = json.loads(line[len("RESULT "):])
  assert result.pop("devices") == 8
  assert set(result) == set(VARIANTS)
  for variant, (step, loss) in result.items():
    assert step == 1 and np.isfinite(loss), variant
    assert os.path.exists(tmp_path / variant / "checkpoints" / "1"), variant
