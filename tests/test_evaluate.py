"""`jaxgen.evaluate` and jaxgen.metrics.sample_quality: metrics of runs and of image files."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from helpers import run_cli
from jaxgen import data, train
from jaxgen.evaluators.reconstruction import Reconstruction
from jaxgen.run import Run
from jaxgen.metrics import image, sample_quality
from jaxgen.metrics.kid import kid
from jaxgen.metrics.stats import frechet_distance


def pooled_extractor():
  """Features: 4x4 average-pooled pixels; logits: the mean brightness of 3 bands."""
  def fn(images):
    b, h, w, c = images.shape
    pooled = images.reshape(b, 4, h // 4, 4, w // 4, c).mean((2, 4)).reshape(b, -1)
    return pooled, jnp.stack([pooled[:, :5].mean(1), pooled[:, 5:10].mean(1),
                              pooled[:, 10:].mean(1)], 1)
  return sample_quality.Extractor(fn, "pooled")


@pytest.fixture(scope="module")
def fashion_test():
  return data.load("fashion_mnist", "test[:600]").images


def test_real_features_are_cached_and_padded_like_samples(tmp_path, fashion_test):
  ex = pooled_extractor()
  first = sample_quality.real_features(ex, fashion_test, key="fmnist_test", pad_to=32,
                                       batch_size=256, cache_dir=str(tmp_path))
  assert len(list(tmp_path.iterdir())) == 1
  again = sample_quality.real_features(ex, fashion_test, key="fmnist_test", pad_to=32,
                                       batch_size=100, cache_dir=str(tmp_path))
  np.testing.assert_array_equal(first.features, again.features)
  padded = np.pad(fashion_test / 255.0, ((0, 0), (2, 2), (2, 2), (0, 0))).astype(np.float32)
  direct = sample_quality.extract(ex, [padded])
  np.testing.assert_allclose(first.features, direct.features, rtol=1e-6)
  np.testing.assert_allclose(first.stats.cov, np.cov(direct.features.astype(np.float64).T),
                             rtol=1e-5, atol=1e-9)


def test_scores_separate_real_from_noise(fashion_test):
  ex = pooled_extractor()
  real = sample_quality.extract(ex, [fashion_test[:300] / 255.0])
  same = sample_quality.extract(ex, [fashion_test[300:] / 255.0])
  noise = sample_quality.extract(ex, [np.random.default_rng(0).uniform(size=(300, 28, 28, 1))])
  close = sample_quality.score(["fid", "kid", "is", "pr"], same, real)
  far = sample_quality.score(["fid", "kid", "is", "pr"], noise, real)
  assert close["fid"] < 0.1 * far["fid"] and close["kid"] < 0.1 * far["kid"]
  assert close["precision"] > 0.5 and far["precision"] == 0.0
  assert close["fid"] == pytest.approx(frechet_distance(real.stats.mean, real.stats.cov,
                                                        same.stats.mean, same.stats.cov))
  labels = np.argmax(same.logits, -1)
  assert sample_quality.score([], same, real, labels=labels)["class_accuracy"] == 1.0


def test_kid_subsets_shrink_to_the_smaller_set_and_say_so(tmp_path, fashion_test):
  ex = pooled_extractor()
  fake = [fashion_test[:250] / 255.0, fashion_test[250:400] / 255.0]
  info, scores = sample_quality.score_images(["kid"], ex, iter(fake), fashion_test[400:],
                                             key="fmnist", pad_to=0, batch_size=100,
                                             cache_dir=str(tmp_path))
  assert info["kid_subset_size"] == 200 and (info["num_samples"], info["num_real"]) == (400, 200)
  real = sample_quality.extract(ex, [fashion_test[400:] / 255.0])
  expected = kid(real.features, sample_quality.extract(ex, fake).features, rng=0,
                 subset_size=200)
  np.testing.assert_allclose([scores["kid"], scores["kid_std"]], expected, rtol=1e-5)


def test_extract_rejects_images_outside_the_unit_range():
  with pytest.raises(ValueError, match=r"images must be floats in \[0, 1\]"):
    sample_quality.extract(pooled_extractor(), [np.full((2, 28, 28, 1), 255.0)])


def test_evaluate_cli_nll_and_reconstruction_ssim(tmp_path, tiny_fmnist):
  train.train_and_evaluate(tiny_fmnist, str(tmp_path))
  out = tmp_path / "m.json"
  run_cli("-m", "jaxgen.evaluate", "--workdir", str(tmp_path), "--metrics", "nll,ssim",
          "--num", "130", "--out", str(out))
  scores = json.loads(out.read_text())["metrics"]
  assert scores["neg_elbo"] > 0 and 0.0 < scores["ssim"] <= 1.0 and scores["psnr"] > 0
  # The SSIM is the mean over exactly the first 130 eval images and their reconstructions.
  run = Run(tiny_fmnist, str(tmp_path))
  pairs = list(Reconstruction(run, num=130).batches(run.restore()))
  run.checkpoints.close()
  x, y = (np.concatenate(p) for p in zip(*pairs))
  ds = run.dataset(tiny_fmnist.data.eval_split)
  np.testing.assert_allclose(x, ds.images[:130] / np.float32(255.0), rtol=1e-6)
  assert scores["ssim"] == pytest.approx(float(np.mean(image.ssim(x, y, data_range=1.0))),
                                         rel=1e-5)


FMNIST = ["--dataset", "fashion_mnist", "--split", "test[:100]"]


@pytest.mark.parametrize("args, message", [
    (["--metrics", "fid,bogus"], "unknown bogus"),
    (["--images", "x.npz"], "--images needs --dataset"),
    (["--images", "x.txt", *FMNIST, "--metrics", "fid"],
     "expected an .npz file or a folder of PNGs"),
    (["--images", "{tmp}/flat.npz", *FMNIST, "--metrics", "fid"],
     "flat.npz: expected images [N, H, W, 1 or 3], got (20, 784)"),
    (["--images", "{tmp}/bright.npz", *FMNIST, "--metrics", "fid"],
     "bright.npz: float images must lie in [0, 1], got [0, 2]"),
    (["--images", "{tmp}/ints.npz", *FMNIST, "--metrics", "fid"],
     "ints.npz: expected uint8 or float images, got int64"),
    (["--images", "{tmp}/few.npz", *FMNIST, "--metrics", "pr"],
     "k=3 nearest neighbours need more than 3 samples per set, got 100 real and 3 fake"),
    (["--images", "{tmp}/few.npz", *FMNIST, "--metrics", "is", "--extractor", "inception"],
     "is: the Inception Score needs the Inception logits, which the fetched FID Inception weights"),
    (["--images", "{tmp}/few.npz", *FMNIST, "--metrics", "fid", "--extractor", "inception",
      "--inception-weights", "{tmp}/none.npz"], "FID Inception weights not found at"),
])
def test_evaluate_cli_names_bad_input(tmp_path, args, message):
  rng = np.random.default_rng(0)
  np.savez(tmp_path / "flat.npz", images=rng.uniform(size=(20, 784)))
  np.savez(tmp_path / "bright.npz", images=np.linspace(0.0, 2.0, 20 * 28 * 28).reshape(20, 28, 28))
  np.savez(tmp_path / "ints.npz", images=np.zeros((20, 28, 28), np.int64))
  np.savez(tmp_path / "few.npz", images=rng.integers(0, 256, (3, 28, 28), np.uint8))
  args = [a.format(tmp=tmp_path) for a in args]
  wd = ["--workdir", str(tmp_path)] if "--images" not in args else []
  proc = run_cli("-m", "jaxgen.evaluate", *wd, *args, "--cache_dir", str(tmp_path / "cache"),
                 check=False)
  assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]


def test_scores_of_samples_in_memory_npz_and_png_agree(trained, tmp_path):
  """Generated images are quantised to 8 bits before the extractor, as a saved PNG is: the
  run's own samples, their float .npz and their PNG files give the same FID, KID and PR."""
  config, workdir = trained
  run = Run(config, workdir)
  samples = np.concatenate([x for x, _ in run.sample_batches(run.restore(), 0, 200, 100, False)])
  run.checkpoints.close()
  assert len(np.unique(samples)) > 256  # floats between the 8-bit levels
  np.savez(tmp_path / "samples.npz", images=samples)
  pngs = tmp_path / "pngs"
  pngs.mkdir()
  for i, x in enumerate(np.clip(np.round(samples[..., 0] * 255), 0, 255).astype(np.uint8)):
    Image.fromarray(x).save(pngs / f"{i:04d}.png")
  common = ["--metrics", "fid,kid,pr", "--batch_size", "100", "--cache_dir", str(tmp_path / "c")]
  real = ["--dataset", "fashion_mnist", "--split", config.data.eval_split]
  results = {}
  for name, args in (("run", ["--workdir", workdir, "--num", "200"]),
                     ("npz", ["--images", str(tmp_path / "samples.npz"), *real]),
                     ("png", ["--images", str(pngs), *real])):
    out = tmp_path / f"{name}.json"
    run_cli("-m", "jaxgen.evaluate", *args, *common, "--out", str(out))
    results[name] = json.loads(out.read_text())["metrics"]
  assert set(results["run"]) >= {"fid", "kid", "precision", "recall"}
  assert results["run"] == results["npz"] == results["png"]
