"""`jaxgen.sample`: bit-identical samples with their provenance, class-conditional grids, latent
interpolation, DRAW sequences, clear errors."""

import json

import numpy as np
import pytest
from PIL import Image

from helpers import load_config, run_cli
from jaxgen import config as config_lib
from jaxgen import train
from jaxgen.run import Run


@pytest.fixture(scope="module")
def cgan(tmp_path_factory):
  """A conditional GAN run (tiny config, initial weights) checkpointed at step 0."""
  workdir = tmp_path_factory.mktemp("cgan")
  config = load_config("cgan_fashion_mnist", "tiny")
  config_lib.save(config, str(workdir))
  run = Run(config, str(workdir))
  state = run.init_state()
  run.checkpoints.save(0, state)
  run.checkpoints.close()
  run = Run(config, str(workdir))
  yield run, run.restore(), workdir
  run.checkpoints.close()


def test_per_class_grid_has_a_row_per_class(cgan):
  _, _, workdir = cgan
  out = workdir / "per_class.png"
  run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), "--per-class", "2", "--out", str(out),
          "--npz")
  saved = np.load(workdir / "per_class.npz")
  np.testing.assert_array_equal(saved["labels"], np.repeat(np.arange(10), 2))
  assert saved["images"].shape == (20, 32, 32, 1)
  png = Image.open(out)
  assert png.size == (2 * 34 + 2, 10 * 34 + 2)  # 2 columns, 10 rows of 32 px with 2 px gaps
  assert png.text["kind"] == "per_class"


def test_interpolation_cli_keeps_each_row_label(cgan):
  _, _, workdir = cgan
  out = workdir / "interp.png"
  run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), "--interpolate", "2", "--steps", "3",
          "--labels", "3,5", "--out", str(out), "--npz")
  saved = np.load(workdir / "interp.npz")
  np.testing.assert_array_equal(saved["labels"], [3, 3, 3, 5, 5, 5])
  assert saved["images"].shape == (6, 32, 32, 1)
  assert Image.open(out).size == (3 * 34 + 2, 2 * 34 + 2)


def test_labels_choose_the_class_and_samples_are_reproducible(cgan):
  run, state, _ = cgan
  threes = run.sample(state, 0, 4, [3, 3, 3, 3])
  np.testing.assert_array_equal(threes, run.sample(state, 0, 4, [3, 3, 3, 3]))
  fives = run.sample(state, 0, 4, [5, 5, 5, 5])
  # Untrained with the DCGAN init, outputs differ by ~1e-5 only; ignoring labels would give
  # the very same bits.
  assert not np.array_equal(threes, fives)
  # Same latents, label per row: row 0 keeps label 3 in both walks, row 1 changes 5 -> 3.
  walk_35 = run.interpolate(state, 0, 2, 3, [3, 5]).reshape(2, 3, -1)
  walk_33 = run.interpolate(state, 0, 2, 3, [3, 3]).reshape(2, 3, -1)
  np.testing.assert_array_equal(walk_35[0], walk_33[0])
  assert not np.array_equal(walk_35[1], walk_33[1])


def test_logs_are_quiet_and_name_each_source_once(cgan, tmp_path):
  """No note that JAX probed for a TPU and found none (JAX_PLATFORMS unset: it probes);
  the data source is said once."""
  _, _, workdir = cgan
  proc = run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), "--num", "4",
                 "--out", str(tmp_path / "s.png"), env={"JAX_PLATFORMS": ""})
  assert "Unable to initialize backend" not in proc.stderr
  assert proc.stderr.count("reading IDX files") == 1, proc.stderr
  assert "fashion_mnist train: reading IDX files" in proc.stderr


def test_bad_labels_are_named(cgan, tmp_path):
  run, state, workdir = cgan
  with pytest.raises(ValueError, match="label 10 is outside the 10 classes of fashion_mnist"):
    run.sample(state, 0, 2, [1, 10])
  vae = Run(load_config("vae_fashion_mnist", "tiny"), str(tmp_path))
  with pytest.raises(ValueError, match="not class-conditional"):
    vae.sample(None, 0, 1, [0])
  vae.checkpoints.close()
  proc = run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), "--labels", "1,x", check=False)
  assert proc.returncode != 0 and "--labels takes comma-separated class indices" in proc.stderr


@pytest.fixture(scope="module")
def draw_run(tmp_path_factory):
  """A DRAW run (tiny config, initial weights) checkpointed at step 0."""
  workdir = tmp_path_factory.mktemp("draw")
  config = load_config("draw_fashion_mnist", "tiny")
  config_lib.save(config, str(workdir))
  run = Run(config, str(workdir))
  run.checkpoints.save(0, run.init_state())
  run.checkpoints.close()
  run = Run(config, str(workdir))
  yield run, run.restore(), workdir
  run.checkpoints.close()


def test_sequence_writes_every_canvas_as_gif_and_strip(draw_run):
  run, state, workdir = draw_run
  steps = run.config.model.steps
  out = workdir / "seq.png"
  run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), "--sequence", "--num", "3",
          "--seed", "5", "--out", str(out), "--npz")
  frames = np.load(workdir / "seq.npz")["frames"]
  assert frames.shape == (steps, 3, 28, 28, 1)
  np.testing.assert_allclose(frames[-1], run.sample(state, 5, 3), atol=1e-6)
  assert Image.open(out).size == (steps * 30 + 2, 3 * 30 + 2)  # a column per step, a row per image
  gif = Image.open(workdir / "seq.gif")
  assert gif.n_frames == steps
  meta = json.loads(gif.info["comment"])
  assert meta["kind"] == "sequence" and meta["seed"] == "5" and meta["model"].startswith("draw/")
  with pytest.raises(ValueError, match="does not generate a sequence"):
    Run(load_config("vae_fashion_mnist", "tiny"), str(workdir / "vae")).sample_sequence(
        None, 0, 1)


def test_a_workdir_from_before_a_key_existed_still_samples(tmp_path):
  """config.json written before gan.prior and config.evals existed: the keys take their
  defaults (the behavior from before them), and sampling gives the same pixels."""
  config = load_config("dcgan_fashion_mnist", "tiny")
  config.num_steps = 1
  workdir = tmp_path / "old"
  train.train_and_evaluate(config, str(workdir))
  path = workdir / "config.json"
  old = json.loads(path.read_text())
  del old["gan"]["prior"], old["evals"]
  path.write_text(json.dumps(old))
  out = {}
  for name in ("old", "new"):
    if name == "new":
      path.write_text(config.to_json())
    run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), "--num", "4", "--npz",
            "--out", str(tmp_path / f"{name}.png"))
    out[name] = np.load(tmp_path / f"{name}.npz")["images"]
  np.testing.assert_array_equal(out["old"], out["new"])


def test_sample_cli_is_bit_identical_and_carries_provenance(tmp_path, tiny_fmnist):
  train.train_and_evaluate(tiny_fmnist, str(tmp_path))
  outs = {}
  for name, seed in (("a", 7), ("b", 7), ("c", 8)):
    out = tmp_path / f"{name}.png"
    run_cli("-m", "jaxgen.sample", "--workdir", str(tmp_path), "--num", "16", "--seed",
            str(seed), "--out", str(out), "--npz")
    outs[name] = out
  pixels = {k: np.asarray(Image.open(v)) for k, v in outs.items()}
  np.testing.assert_array_equal(pixels["a"], pixels["b"])
  assert not np.array_equal(pixels["a"], pixels["c"])
  raw_a, raw_b = (np.load(tmp_path / f"{k}.npz")["images"] for k in "ab")
  np.testing.assert_array_equal(raw_a, raw_b)
  text = Image.open(outs["a"]).text
  assert text["Comment"] == "generated by jaxgen" and text["step"] == "20"
  assert text["seed"] == "7" and len(text["config_hash"]) == 16 and text["jaxgen_version"]
