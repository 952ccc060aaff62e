"""jaxgen.run.Run: padding is black in every preprocessing mode; likelihoods, reconstructions and
samples do not depend on the eval batch size or the device count; grids, walks and sample
metrics draw from their declared keys."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import load_config, run_cli
from jaxgen import data, prng
from jaxgen.evaluators.likelihood import Likelihood
from jaxgen.evaluators.reconstruction import Reconstruction
from jaxgen.run import Run


@pytest.mark.parametrize("mode", data.MODES)
def test_padding_is_black_in_every_preprocess_mode(tmp_path, mode):
  """Black 28x28 images padded to 32 equal black 32x32 images, preprocessed with the same key:
  the border is what black is inside (-1 for scale11, not a mid-grey 0)."""
  config = load_config("dcgan_fashion_mnist", "tiny")
  config.data.pad_to, config.data.preprocess = 32, mode
  run = Run(config, str(tmp_path))
  key = jax.random.key(3)
  raw = {"image": jnp.zeros((4, 28, 28, 1), jnp.uint8), "label": jnp.zeros((4,), jnp.int32)}
  padded = np.asarray(run.preprocess(raw, key)["image"])
  black = np.asarray(data.preprocess(jnp.zeros((4, 32, 32, 1), jnp.uint8), key, mode))
  np.testing.assert_array_equal(padded, black)
  if not mode.startswith("dequantize"):  # their black is noise, alike inside and out
    assert np.all(padded == padded[:, 14, 14][:, None, None])
  assert run.spec.padding == ((2, 2), (2, 2))


def _evaluate(config, workdir, batch_size):
  config = config.copy_and_resolve_references()
  config.eval.batch_size = batch_size
  run = Run(config, workdir)
  state = run.restore()
  _, nll = Likelihood(run).run(state)
  _, ssim = Reconstruction(run, num=-1).run(state)
  samples = np.concatenate([x for x, _ in run.sample_batches(state, 0, 300, batch_size, False)])
  run.checkpoints.close()
  return {**nll, **ssim}, samples


def test_eval_does_not_depend_on_the_batch_size(trained):
  """Each example's binarization and noise are keyed by its index in the split: the same
  numbers for batches of 100 and 500 (up to the order of float32 sums), as for samples."""
  config, workdir = trained
  small, small_samples = _evaluate(config, workdir, 100)
  large, large_samples = _evaluate(config, workdir, 500)
  assert {"neg_elbo", "iwae_nll", "ssim", "ms_ssim", "psnr"} <= set(small)
  for k in small:
    assert small[k] == pytest.approx(large[k], rel=2e-6), k
  np.testing.assert_allclose(small_samples, large_samples, rtol=1e-6, atol=1e-6)


def test_eval_on_eight_devices_matches_one(trained, tmp_path):
  config, workdir = trained
  out = tmp_path / "eight.json"
  run_cli("-m", "jaxgen.evaluate", "--workdir", workdir, "--metrics", "nll,ssim", "--num", "-1",
          "--batch_size", "200", "--out", str(out),
          env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
  eight = json.loads(out.read_text())["metrics"]
  one, _ = _evaluate(config, workdir, 200)
  for k in one:
    assert eight[k] == pytest.approx(one[k], rel=2e-6), k


def test_run_draws_from_its_declared_keys(trained):
  """The wiring behind the distinct keys: grids, walks and reconstructions use their own."""
  config, workdir = trained
  run = Run(config, workdir)
  state = run.restore()
  run.checkpoints.close()
  root = prng.root_key(5)
  grid = run.sample(state, 5, 4)
  np.testing.assert_array_equal(
      grid, run.method.sample(state, prng.use_key(root, "sample_grid"), 4))
  walk = run.interpolate(state, 5, 1, 3)
  np.testing.assert_array_equal(
      walk, run.method.interpolate(state, prng.use_key(root, "interpolate"), 1, 3))
  sample_3 = next(run.sample_batches(state, 5, 4, 4, False))[0][3]
  expected = run.method.sample(state, jax.random.fold_in(prng.use_key(root, "sample_metrics"), 3),
                               1)[0]
  np.testing.assert_allclose(sample_3, expected, rtol=1e-6, atol=1e-7)
