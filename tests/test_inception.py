"""The FID Inception network against the reference code, with the same random weights in both.

The real weights cannot be downloaded here. The reference network is torch-fidelity's torch-only
port of pytorch-fid's `fid_inception_v3` (pytorch-fid's own module subclasses torchvision's,
which cannot be installed beside the CPU torch); that its blocks are pytorch-fid's is itself
checked, and its input goes through pytorch-fid's own forward (the resize and the scaling).
"""

import ast
import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import run_cli
from flax import traverse_util

from jaxgen.metrics import inception

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
  with pytest.raises(SystemExit, match=r"^python -m jaxgen.metrics.inception convert: .*nope.pth"):
    inception.main(["convert", str(tmp_path / "nope.pth"), str(tmp_path / "nope.npz")])
