"""What tests/metrics checks jaxgen's metrics against: pytorch-fid's and torch-fidelity's own
functions, compiled from their installed sources, and the fetched FID Inception weights with the
TorchScript module they come from."""

import ast
import importlib.util
import os
import runpy
import types
import warnings

import numpy as np
import pytest
import torch
from scipy import linalg

from jaxgen.metrics import inception


def _reference_path(package, filename):
  spec = importlib.util.find_spec(package)
  if spec is None:
    pytest.fail(f"{package} is a test dependency: .ci/setup installs it with --no-deps")
  return f"{spec.submodule_search_locations[0]}/{filename}"


def _reference_functions(package, filename, names, namespace):
  """Functions `names` of an installed reference package (with the file's upper-case module
  constants), compiled unmodified from its source into `namespace`. Their modules cannot be
  imported here: pytorch-fid's and torch-fidelity's import torchvision, which cannot be
  installed beside the CPU torch; the functions themselves need only what `namespace` holds."""
  path = _reference_path(package, filename)
  with open(path) as f:
    tree = ast.parse(f.read())
  constants = [n for n in tree.body if isinstance(n, ast.Assign)
               and all(isinstance(t, ast.Name) and t.id.isupper() for t in n.targets)]
  functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
  assert sorted(n.name for n in functions) == sorted(names), f"{path} changed"
  namespace = dict(namespace)
  exec(compile(ast.Module(constants + functions, type_ignores=[]), path, "exec"), namespace)
  return [namespace[name] for name in names]


@pytest.fixture(scope="module")
def pytorch_fid_frechet():
  """pytorch-fid 0.3.0's own `calculate_frechet_distance`."""
  (reference,) = _reference_functions("pytorch_fid", "fid_score.py",
                                      ["calculate_frechet_distance"],
                                      {"np": np, "linalg": linalg})

  def call(*args):
    with warnings.catch_warnings():  # its sqrtm(disp=False) is deprecated in scipy 1.17
      warnings.simplefilter("ignore", DeprecationWarning)
      return reference(*args)
  return call


@pytest.fixture(scope="module")
def torch_fidelity():
  """torch-fidelity 0.4.0's KID, Inception Score and precision/recall from their metric files,
  with its own helpers and defaults (100 subsets of 1000, cubic kernel, 10 splits, k = 3).
  One substitution: its KID draws subsets from np.random.RandomState(seed); here that name
  gives numpy's Generator, as jaxgen's `kid` uses, so both draw the same subsets."""
  import torch
  defaults = runpy.run_path(_reference_path("torch_fidelity", "defaults.py"))["DEFAULTS"]
  helpers = _reference_functions("torch_fidelity", "helpers.py",
                                 ["get_kwarg", "vassert", "vprint"], {"DEFAULTS": defaults})
  common = dict(zip(["get_kwarg", "vassert", "vprint"], helpers), np=np, torch=torch,
                tqdm=lambda iterable, **kwargs: iterable)
  numpy_with_generator = types.ModuleType("numpy")
  numpy_with_generator.__dict__.update(np.__dict__)
  numpy_with_generator.random = types.SimpleNamespace(RandomState=np.random.default_rng)
  *_, kid = _reference_functions(
      "torch_fidelity", "metric_kid.py",
      ["mmd2", "kernel_poly", "kernel_rbf", "kernel_mmd", "kid_features_to_metric"],
      {**common, "np": numpy_with_generator})
  (isc,) = _reference_functions("torch_fidelity", "metric_isc.py", ["isc_features_to_metric"],
                                common)
  *_, prc = _reference_functions(
      "torch_fidelity", "metric_prc.py", ["calc_cdist_full", "calculate_precision_recall_full"],
      common)
  return types.SimpleNamespace(kid=kid, isc=isc, prc=prc, defaults=defaults, tensor=torch.tensor)


@pytest.fixture(scope="module")
def fetched():
  """(converted .npz, TorchScript file) in the cache `fetch` fills. Missing, they fail rather
  than skip: the test command's setup fetches them, so their absence is a broken setup."""
  npz, pt = inception.fetched_paths()
  if not (os.path.isfile(npz) and os.path.isfile(pt)):
    pytest.fail(f"no fetched FID Inception weights in {inception.cache_dir()}: run "
                f"`{inception.FETCH_COMMAND}` (.ci/setup does)")
  return npz, pt


@pytest.fixture(scope="module")
def scripted(fetched):
  """The TorchScript module itself: 299x299 NCHW images in [-1, 1] -> [B, 2048] pool3."""
  with warnings.catch_warnings():  # torch.jit.load is deprecated in favour of torch.export
    warnings.simplefilter("ignore", DeprecationWarning)
    return torch.jit.load(fetched[1]).eval()
