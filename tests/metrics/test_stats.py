"""Metrics against their reference implementations (pytorch-fid, torch-fidelity, scikit-image),
closed forms and direct implementations of the papers' formulas."""

import ast
import importlib.util
import math
import runpy
import types
import warnings

import numpy as np
import pytest
from scipy import linalg, ndimage, special
from scipy.spatial import distance
from skimage import metrics as skmetrics

from jaxgen import metrics
from jaxgen.metrics import stats


def _random_covariance(rng, dim, scale=1.0):
  a = rng.normal(size=(dim, 2 * dim))
  return scale * a @ a.T / (2 * dim)


# ----- Streaming statistics ---------------------------------------------------------------------


def test_feature_stats_over_uneven_batches_equal_batch_statistics():
  rng = np.random.default_rng(0)
  # A large common offset: a naive running sum of squares would lose most digits to it.
  features = 1e4 + rng.normal(size=(103, 7)) @ rng.normal(size=(7, 7))
  s = metrics.FeatureStats.empty(7)
  for batch in np.split(features, [0, 1, 18, 68]):  # sizes 0, 1, 17, 50, 35
    s = s.update(batch)
  assert s.count == 103
  np.testing.assert_allclose(s.mean, features.mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(s.cov, np.cov(features, rowvar=False, ddof=1), rtol=1e-8)


def test_feature_stats_merge_is_order_independent():
  rng = np.random.default_rng(1)
  a, b, c = (rng.normal(loc=i, size=(n, 4)) for i, n in enumerate((5, 11, 2)))
  left = metrics.FeatureStats.of(a).merge(metrics.FeatureStats.of(b)).merge(
      metrics.FeatureStats.of(c))
  right = metrics.FeatureStats.of(c).merge(metrics.FeatureStats.of(b).update(a))
  np.testing.assert_allclose(left.mean, right.mean, rtol=1e-12)
  np.testing.assert_allclose(left.cov, right.cov, rtol=1e-12)
  np.testing.assert_allclose(left.cov, np.cov(np.concatenate([a, b, c]), rowvar=False),
                             rtol=1e-12)


def test_feature_stats_errors():
  with pytest.raises(ValueError, match="at least 2"):
    metrics.FeatureStats.empty(3).update(np.ones((1, 3))).cov
  with pytest.raises(ValueError, match="dimensions"):
    metrics.FeatureStats.empty(3).update(np.ones((4, 2)))
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    metrics.FeatureStats.of(np.ones(3))


# ----- Fréchet distance -------------------------------------------------------------------------


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


@pytest.mark.parametrize("num, dim", [(200, 16), (12, 24)])  # full rank; singular covariances
def test_frechet_distance_matches_pytorch_fid(pytorch_fid_frechet, num, dim):
  rng = np.random.default_rng(num)
  f1 = rng.normal(size=(num, dim))
  f2 = 0.3 + rng.normal(size=(num, dim)) @ rng.normal(scale=0.5, size=(dim, dim))
  s1, s2 = metrics.FeatureStats.of(f1), metrics.FeatureStats.of(f2)
  ours = metrics.frechet_distance(s1.mean, s1.cov, s2.mean, s2.cov)
  reference = pytorch_fid_frechet(s1.mean, s1.cov, s2.mean, s2.cov)
  assert ours > 0
  np.testing.assert_allclose(ours, reference, rtol=1e-6)


def test_frechet_distance_closed_form_for_diagonal_covariances():
  rng = np.random.default_rng(2)
  mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
  var1, var2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
  expected = np.sum((mu1 - mu2)**2) + np.sum(var1 + var2 - 2.0 * np.sqrt(var1 * var2))
  ours = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
  np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_frechet_distance_with_equal_covariances_is_the_squared_mean_distance():
  rng = np.random.default_rng(3)
  cov = _random_covariance(rng, 8)
  mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
  np.testing.assert_allclose(metrics.frechet_distance(mu1, cov, mu2, cov),
                             np.sum((mu1 - mu2)**2), rtol=1e-8)
  assert abs(metrics.frechet_distance(mu1, cov, mu1, cov)) < 1e-10


def test_frechet_distance_matches_symmetric_square_root():
  # Tr (C1 C2)^½ = Tr (C1^½ C2 C1^½)^½, a symmetric PSD root: here by eigendecomposition.
  rng = np.random.default_rng(4)
  cov1, cov2 = _random_covariance(rng, 10), _random_covariance(rng, 10, scale=2.0)
  mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
  root1 = linalg.sqrtm(cov1).real
  eigenvalues = linalg.eigvalsh(root1 @ cov2 @ root1)
  expected = (np.sum((mu1 - mu2)**2) + np.trace(cov1) + np.trace(cov2)
              - 2.0 * np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))
  np.testing.assert_allclose(metrics.frechet_distance(mu1, cov1, mu2, cov2), expected,
                             rtol=1e-9)


def test_frechet_distance_retries_a_non_finite_root_with_eps(monkeypatch):
  calls = []

  def sqrtm(a):
    calls.append(a)
    return np.full_like(a, np.nan) if len(calls) == 1 else linalg.sqrtm(a)
  monkeypatch.setattr(stats, "linalg", types.SimpleNamespace(sqrtm=sqrtm))
  var1, var2 = np.array([1.0, 0.0, 2.0]), np.array([0.0, 3.0, 0.5])
  eps = 1e-2
  ours = metrics.frechet_distance(np.zeros(3), np.diag(var1), np.zeros(3), np.diag(var2), eps=eps)
  # Only the root sees the offset; the traces keep the covariances as given.
  expected = np.sum(var1 + var2) - 2.0 * np.sum(np.sqrt((var1 + eps) * (var2 + eps)))
  assert len(calls) == 2
  np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_frechet_distance_rejects_a_complex_root():
  with pytest.raises(ValueError, match="imaginary"):
    metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), -np.eye(3))
  with pytest.raises(ValueError, match="covariances must"):
    metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))


# ----- KID --------------------------------------------------------------------------------------


def _mmd2_by_definition(x, y):
  """The unbiased MMD² of Binkowski et al. (their code's 'unbiased' estimator), pair by pair."""
  m, d = x.shape
  k = lambda a, b: (a @ b / d + 1.0)**3
  pairs = [(i, j) for i in range(m) for j in range(m) if i != j]
  k_xx = sum(k(x[i], x[j]) for i, j in pairs) / (m * (m - 1))
  k_yy = sum(k(y[i], y[j]) for i, j in pairs) / (m * (m - 1))
  k_xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
  return k_xx + k_yy - 2.0 * k_xy


def test_mmd2_matches_the_definition():
  rng = np.random.default_rng(5)
  x, y = rng.normal(size=(12, 5)), rng.normal(loc=0.5, size=(12, 5))
  np.testing.assert_allclose(metrics.mmd2_unbiased(x, y), _mmd2_by_definition(x, y), rtol=1e-10)


def test_kid_averages_the_definition_over_subsets():
  rng = np.random.default_rng(6)
  f1, f2 = rng.normal(size=(40, 4)), rng.normal(loc=0.3, size=(30, 4))
  mean, std = metrics.kid(f1, f2, rng=np.random.default_rng(7), num_subsets=6, subset_size=10)
  draws = np.random.default_rng(7)
  expected = [
      _mmd2_by_definition(f1[draws.choice(40, 10, replace=False)],
                          f2[draws.choice(30, 10, replace=False)]) for _ in range(6)]
  np.testing.assert_allclose([mean, std], [np.mean(expected), np.std(expected)], rtol=1e-10)
  assert std > 0


def test_kid_with_whole_sets_as_subsets_is_their_mmd():
  rng = np.random.default_rng(8)
  f1, f2 = rng.normal(size=(15, 3)), rng.normal(size=(15, 3))
  mean, std = metrics.kid(f1, f2, rng=0, num_subsets=3, subset_size=15)
  np.testing.assert_allclose(mean, _mmd2_by_definition(f1, f2), rtol=1e-10)
  assert std < 1e-12


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted_sets():
  rng = np.random.default_rng(9)
  f1, f2 = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
  same, _ = metrics.kid(f1, f2, rng=0, num_subsets=20, subset_size=200)
  shifted, std = metrics.kid(f1, f2 + 0.5, rng=0, num_subsets=20, subset_size=200)
  assert abs(same) < 0.005 and shifted > 10 * std and shifted > 0.1, (same, shifted, std)


def test_kid_needs_subset_size_samples():
  with pytest.raises(ValueError, match="features2 has 9"):
    metrics.kid(np.zeros((10, 2)), np.zeros((9, 2)), rng=0, subset_size=10)


def test_kid_matches_torch_fidelity(torch_fidelity):
  rng = np.random.default_rng(16)
  f1, f2 = rng.normal(size=(1200, 8)), 0.1 + rng.normal(size=(1100, 8))
  d = torch_fidelity.defaults
  assert (d["kid_subsets"], d["kid_subset_size"], d["kid_kernel_poly_degree"]) == (100, 1000, 3)
  assert (metrics.kid.__kwdefaults__["num_subsets"],
          metrics.kid.__kwdefaults__["subset_size"]) == (100, 1000)
  # Its kernel and estimator at its defaults, over 12 of the 100 subsets (each takes a while).
  reference = torch_fidelity.kid(torch_fidelity.tensor(f1), torch_fidelity.tensor(f2),
                                 rng_seed=3, verbose=False, kid_subsets=12)
  ours = metrics.kid(f1, f2, rng=3, num_subsets=12)
  np.testing.assert_allclose(
      ours, [reference["kernel_inception_distance_mean"],
             reference["kernel_inception_distance_std"]], rtol=1e-9)
  assert ours[0] > 5 * ours[1]


# ----- Inception Score --------------------------------------------------------------------------


def test_inception_score_of_uniform_predictions_is_one():
  mean, std = metrics.inception_score(np.full((50, 8), 1 / 8))
  np.testing.assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)


def test_inception_score_of_confident_evenly_spread_predictions_is_the_class_count():
  probs = np.eye(10)[np.arange(1000) % 10]  # every split of 100 holds each class 10 times
  mean, std = metrics.inception_score(probs)
  np.testing.assert_allclose([mean, std], [10.0, 0.0], atol=1e-10)


def test_inception_score_closed_form_for_soft_predictions():
  # p(y|x) puts a on the sample's class and spreads the rest; p(y) is uniform, so
  # IS = exp(log C - H(p(y|x))) = C exp(-H).
  c, a = 5, 0.6
  rows = np.full((c, c), (1 - a) / (c - 1)) + np.eye(c) * (a - (1 - a) / (c - 1))
  entropy = -(a * math.log(a) + (1 - a) * math.log((1 - a) / (c - 1)))
  mean, std = metrics.inception_score(np.tile(rows, (20, 1)), num_splits=4)
  np.testing.assert_allclose([mean, std], [c * math.exp(-entropy), 0.0], atol=1e-10)


def test_inception_score_splits_are_consecutive():
  # First half: confident over two classes (IS 2); second half: uniform over 4 (IS 1).
  probs = np.concatenate([np.eye(4)[np.arange(10) % 2], np.full((10, 4), 0.25)])
  mean, std = metrics.inception_score(probs, num_splits=2)
  np.testing.assert_allclose([mean, std], [1.5, 0.5], atol=1e-12)


def test_inception_score_from_logits_is_from_their_softmax():
  logits = np.random.default_rng(10).normal(scale=3.0, size=(60, 7))
  np.testing.assert_allclose(metrics.inception_score(logits, from_logits=True, num_splits=3),
                             metrics.inception_score(special.softmax(logits, axis=1),
                                                     num_splits=3), rtol=1e-12)


def test_inception_score_rejects_logits_passed_as_probabilities():
  with pytest.raises(ValueError, match="from_logits"):
    metrics.inception_score(np.random.default_rng(11).normal(size=(20, 4)))
  with pytest.raises(ValueError, match="num_splits=10"):
    metrics.inception_score(np.full((5, 2), 0.5))


def test_inception_score_matches_torch_fidelity(torch_fidelity):
  logits = np.random.default_rng(17).normal(scale=2.0, size=(1003, 12))  # uneven splits
  reference = torch_fidelity.isc(torch_fidelity.tensor(logits), splits=10, shuffle=False)
  ours = metrics.inception_score(logits, from_logits=True)
  np.testing.assert_allclose(ours, [reference["inception_score_mean"],
                                    reference["inception_score_std"]], rtol=1e-10)


# ----- Precision, recall, density, coverage -----------------------------------------------------


def _prdc_by_definition(real, fake, k):
  """The papers' definitions, sample by sample, on exact pairwise distances."""
  def radii(x):  # distance to the k-th nearest other point
    return np.array([np.sort(np.delete(distance.cdist(x[i:i + 1], x)[0], i))[k - 1]
                     for i in range(len(x))])
  r_real, r_fake = radii(real), radii(fake)
  d = distance.cdist(real, fake)  # [N, M]
  precision = np.mean([any(d[i, j] <= r_real[i] for i in range(len(real)))
                       for j in range(len(fake))])
  recall = np.mean([any(d[i, j] <= r_fake[j] for j in range(len(fake)))
                    for i in range(len(real))])
  density = np.mean([sum(d[i, j] < r_real[i] for i in range(len(real)))
                     for j in range(len(fake))]) / k
  coverage = np.mean([any(d[i, j] < r_real[i] for j in range(len(fake)))
                      for i in range(len(real))])
  return precision, recall, density, coverage


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_the_definitions(k):
  rng = np.random.default_rng(12 + k)
  # Partial overlap both ways: each set has a cluster the other lacks.
  real = np.concatenate([rng.normal(size=(35, 3)), rng.normal(loc=-2.0, size=(10, 3))])
  fake = np.concatenate([rng.normal(size=(25, 3)), rng.normal(loc=2.0, size=(15, 3))])
  ours = metrics.prdc(real, fake, k=k, block_size=16)
  expected = _prdc_by_definition(real, fake, k)
  np.testing.assert_allclose(ours, expected, rtol=1e-12)
  assert 0 < ours.precision < 1 and 0 < ours.recall < 1 and 0 < ours.coverage < 1


def test_precision_recall_match_torch_fidelity(torch_fidelity):
  rng = np.random.default_rng(18)
  real = np.concatenate([rng.normal(size=(300, 6)), rng.normal(loc=-2.0, size=(80, 6))])
  fake = np.concatenate([rng.normal(size=(200, 6)), rng.normal(loc=2.0, size=(150, 6))])
  # Its convention: features_1 generated, features_2 real.
  precision, recall = torch_fidelity.prc(torch_fidelity.tensor(fake),
                                         torch_fidelity.tensor(real), neighborhood=3)
  ours = metrics.prdc(real, fake, k=3, block_size=100)
  # Its fractions are float32 means: equal to 1e-6, far below one sample's 1/350.
  np.testing.assert_allclose([ours.precision, ours.recall], [precision, recall], rtol=1e-6)
  assert 0 < ours.precision < 1 and 0 < ours.recall < 1


def test_prdc_ball_boundaries():
  # Integer points, so distances are exact. k=1: every real radius is 1. Fake -1 and 4 lie on
  # the spheres of real 0 and 3: inside for precision (≤, as Kynkäänniemi et al.'s code),
  # outside for density and coverage (<, as Naeem et al.'s code). Fakes -1 and 4 have radius 5.
  real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[-1.0], [4.0], [20.0], [21.0]])
  assert metrics.prdc(real, fake, k=1) == metrics.PRDC(0.5, 1.0, 0.0, 0.0)
  assert _prdc_by_definition(real, fake, 1) == (0.5, 1.0, 0.0, 0.0)


def test_prdc_of_identical_sets():
  real = np.random.default_rng(13).normal(size=(50, 4))
  result = metrics.prdc(real, real.copy(), block_size=7)
  assert result.precision == result.recall == result.coverage == 1.0
  assert result.density >= 1 / 3  # each sample lies at least in its own ball


def test_prdc_of_far_apart_sets_is_zero():
  rng = np.random.default_rng(14)
  result = metrics.prdc(rng.normal(size=(30, 4)), 100.0 + rng.normal(size=(20, 4)))
  assert result == metrics.PRDC(0.0, 0.0, 0.0, 0.0)


def test_precision_counts_fake_samples_on_the_real_manifold():
  rng = np.random.default_rng(15)
  real = rng.normal(size=(40, 4))
  fake = np.concatenate([real[rng.permutation(40)[:20]], 100.0 + rng.normal(size=(20, 4))])
  assert metrics.prdc(real, fake).precision == 0.5


def test_prdc_needs_more_than_k_samples():
  with pytest.raises(ValueError, match="more than 3"):
    metrics.prdc(np.zeros((10, 2)), np.zeros((3, 2)))


# ----- SSIM, MS-SSIM, PSNR ----------------------------------------------------------------------


def _image_pairs(rng, size, channels, data_range, width=None):
  """Random images and structured ones (gradients, stripes, a flat bright region), each against a
  noisy, darkened copy, in [0, data_range] (or [-1, 1] for data_range 2). The flat pair differs by
  faint noise only: its local variances lie far below the squared means, where a float32
  E[x²] - E[x]² would cancel."""
  low = -1.0 if data_range == 2 else 0.0
  width = width or size
  stripes = (np.arange(width) % 8 < 4).astype(float)
  structured = [np.outer(np.linspace(0, 1, size), stripes),
                np.outer(np.linspace(1, 0, size), 1 - stripes), np.full((size, width), 0.9)]
  x = np.stack([rng.uniform(size=(size, width, channels))]
               + [np.repeat(s[..., None], channels, -1) for s in structured])
  noise = np.array([0.03, 0.03, 0.03, 0.001])[:, None, None, None]
  y = np.clip(0.95 * x + noise * rng.normal(size=x.shape), 0, 1)
  return low + data_range * x, low + data_range * y


def _skimage_ssim(x, y, data_range):
  return np.array([skmetrics.structural_similarity(
      a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
      data_range=data_range, channel_axis=-1) for a, b in zip(x, y)])


@pytest.mark.parametrize("channels, data_range", [(1, 1.0), (3, 2.0), (3, 255.0)])
def test_ssim_matches_skimage(channels, data_range):
  x, y = _image_pairs(np.random.default_rng(16), 28, channels, data_range)
  ours = np.asarray(metrics.ssim(x, y, data_range=data_range))
  np.testing.assert_allclose(ours, _skimage_ssim(x, y, data_range), atol=1e-5, rtol=0)


def test_ssim_of_uint8_images_matches_skimage():
  rng = np.random.default_rng(17)
  x = rng.integers(0, 256, size=(3, 28, 28, 3), dtype=np.uint8)
  y = np.clip(x.astype(int) + rng.integers(-30, 30, size=x.shape), 0, 255).astype(np.uint8)
  ours = np.asarray(metrics.ssim(x, y, data_range=255))
  expected = _skimage_ssim(x.astype(np.float64), y.astype(np.float64), 255)
  np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_ssim_of_an_image_with_itself_is_one():
  x, _ = _image_pairs(np.random.default_rng(18), 28, 3, 2.0)
  np.testing.assert_allclose(metrics.ssim(x, x, data_range=2.0), 1.0, atol=1e-6)


def test_psnr_matches_skimage():
  rng = np.random.default_rng(19)
  x = rng.integers(0, 256, size=(3, 28, 28, 1), dtype=np.uint8)
  y = np.clip(x.astype(int) + rng.integers(-20, 20, size=x.shape), 0, 255).astype(np.uint8)
  expected = [skmetrics.peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(x, y)]
  np.testing.assert_allclose(metrics.psnr(x, y, data_range=255), expected, rtol=1e-5)
  assert np.isposinf(metrics.psnr(x, x, data_range=255)).all()


def _ms_ssim_two_scales_reference(x, y, data_range):
  """Two-scale MS-SSIM from scipy and skimage: cs at full scale, SSIM at half scale (2×2 means),
  with the first two standard weights renormalised; the product per channel, then the mean
  over channels."""
  c2 = (0.03 * data_range)**2
  def filt(a):  # the 11×11 Gaussian, valid positions only
    return ndimage.gaussian_filter(a, sigma=1.5, truncate=3.5, axes=(0, 1))[5:-5, 5:-5]
  def cs(a, b):  # [C]
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b = filt(a * a) - mu_a**2, filt(b * b) - mu_b**2
    return np.mean((2 * (filt(a * b) - mu_a * mu_b) + c2) / (var_a + var_b + c2), axis=(0, 1))
  def half(a):  # an odd side repeats its last row or column first
    a = np.pad(a, ((0, a.shape[0] % 2), (0, a.shape[1] % 2), (0, 0)), mode="edge")
    h, w, c = a.shape
    return a.reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))
  def ssim_per_channel(a, b):  # [C]
    return np.array([_skimage_ssim(a[None, ..., c:c + 1], b[None, ..., c:c + 1], data_range)[0]
                     for c in range(a.shape[-1])])
  w1, w2 = 0.0448 / 0.3304, 0.2856 / 0.3304
  return np.array([np.mean(cs(a, b)**w1 * ssim_per_channel(half(a), half(b))**w2)
                   for a, b in zip(x, y)])


@pytest.mark.parametrize("size, scales", [(32, 2), (90, 4), (161, 5)])
def test_ms_ssim_of_rgb_matches_tensorflow(size, scales):
  """tf.image.ssim_multiscale with the same scales and (renormalised) weights: the product over
  scales per channel, then the mean over channels."""
  tf = pytest.importorskip("tensorflow")
  rng = np.random.default_rng(24)
  # Blocks of 8x8 pixels keep contrast at the coarsest scales, where TF's float32 E[x²] - μ²
  # would cancel on white noise averaged flat.
  blocks = rng.uniform(size=(3, size // 8 + 1, size // 8 + 1, 3))
  x = np.kron(blocks, np.ones((1, 8, 8, 1)))[:, :size, :size].astype(np.float32)
  y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
  y[0] = np.clip(y[0] + np.array([0.0, 0.4, -0.4]), 0, 1)  # channels that differ in quality
  weights = np.array(metrics.MS_SSIM_WEIGHTS[:scales]) / sum(metrics.MS_SSIM_WEIGHTS[:scales])
  expected = tf.image.ssim_multiscale(tf.constant(x), tf.constant(y), max_val=1.0,
                                      power_factors=tuple(weights.tolist())).numpy()
  ours = np.asarray(metrics.ms_ssim(x, y, data_range=1.0, num_scales=scales))
  np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_ms_ssim_on_small_images_uses_two_renormalised_scales():
  assert [metrics.ms_ssim_scales(s, s) for s in (11, 20, 21, 28, 32, 40, 41, 160, 161)] == [
      1, 1, 2, 2, 2, 2, 3, 4, 5]
  for size, width in ((32, 32), (27, 31)):
    x, y = _image_pairs(np.random.default_rng(20), size, 3, 1.0, width)
    np.testing.assert_allclose(metrics.ms_ssim(x, y, data_range=1.0),
                               _ms_ssim_two_scales_reference(x, y, 1.0), atol=1e-5, rtol=0)


def test_ms_ssim_with_one_scale_is_ssim():
  x, y = _image_pairs(np.random.default_rng(21), 28, 1, 1.0)
  np.testing.assert_allclose(metrics.ms_ssim(x, y, data_range=1.0, num_scales=1),
                             metrics.ssim(x, y, data_range=1.0), rtol=1e-6)


def test_ms_ssim_is_one_for_identical_images_and_falls_with_noise():
  rng = np.random.default_rng(22)
  x = np.repeat(_image_pairs(rng, 28, 1, 1.0)[0][:2], 4, axis=0)  # two images, four noise levels
  noise = np.array([0.0, 0.02, 0.08, 0.3])[np.tile(np.arange(4), 2), None, None, None]
  y = np.clip(x + noise * rng.normal(size=x.shape), 0, 1)
  scores = np.asarray(metrics.ms_ssim(x, y, data_range=1.0)).reshape(2, 4)
  np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)
  assert (np.diff(scores, axis=1) < 0).all(), scores


def test_ms_ssim_of_anticorrelated_images_is_zero_not_nan():
  x = np.random.default_rng(23).uniform(size=(2, 28, 28, 1))
  np.testing.assert_array_equal(metrics.ms_ssim(x, 1.0 - x, data_range=1.0), 0.0)


@pytest.mark.parametrize("fn", [metrics.ssim, metrics.ms_ssim, metrics.psnr])
def test_image_metrics_reject_bad_input(fn):
  x = np.zeros((2, 28, 28, 1))
  with pytest.raises(ValueError, match="one shape"):
    fn(x, x[..., :20, :], data_range=1.0)
  with pytest.raises(ValueError, match="positive"):
    fn(x, x, data_range=0.0)


def test_ssim_rejects_images_smaller_than_the_window_and_too_many_scales():
  with pytest.raises(ValueError, match="at least that size"):
    metrics.ssim(np.zeros((1, 10, 28, 1)), np.zeros((1, 10, 28, 1)), data_range=1.0)
  with pytest.raises(ValueError, match="1 to 2 MS-SSIM scales"):
    metrics.ms_ssim(np.zeros((1, 32, 32, 1)), np.zeros((1, 32, 32, 1)), data_range=1.0,
                    num_scales=3)
