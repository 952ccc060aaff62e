"""`jaxgen.evaluate`: metrics of runs and of image files, the JSON it writes, samples scored alike
in memory, as .npz and as PNG files, and errors that name bad input (the metrics of image
files themselves: metrics/test_sample_quality.py)."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from helpers import run_cli
from jaxgen import train
from jaxgen.evaluators.reconstruction import Reconstruction
from jaxgen.run import Run
from jaxgen.metrics import image


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


def test_progress_flag_shows_bars_where_stderr_is_not_a_terminal(trained, tmp_path):
  """Here stderr is a pipe, so bars are off by default (test_evaluate_cli_writes_json)."""
  _, workdir = trained
  shown = run_cli("-m", "jaxgen.evaluate", "--workdir", workdir, "--num", "100",
                  "--out", str(tmp_path / "m.json"), "--progress").stderr
  assert re.search(r"IWAE-8 bound, test\[:1000\] split: 100%.* 100/100 .*img/s", shown), shown


def test_evaluate_cli_writes_json(tmp_path, tiny_fmnist):
  train.train_and_evaluate(tiny_fmnist, str(tmp_path))
  proc = run_cli("-m", "jaxgen.evaluate", "--workdir", str(tmp_path), "--num", "128",
                 "--iwae_k", "16")
  result = json.load(open(tmp_path / "eval" / "metrics_step20.json"))
  assert result["iwae_k"] == 16 and result["step"] == 20
  m = result["metrics"]
  assert m["iwae_nll"] <= m["neg_elbo"] + 1.0  # the bound tightens (up to Monte Carlo noise)
  assert "neg_elbo" in proc.stdout
  assert "img/s" not in proc.stderr  # no progress bars on a pipe without --progress
