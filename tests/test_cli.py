"""jaxgen.cli and jaxgen.config.validate: an error a user can cause, on any command line, ends in
one line on stderr that names the key or file and what was expected; exit status 2 for a usage
error (flags, config keys and values), 1 for a failure (a missing or corrupt file, a path that
cannot be written); a traceback only with --debug; and nothing already written is lost. Every
bad input fails before anything is compiled, so each subprocess is cheap.

The bad files a row names under {tmp} (small IDX files, a truncated gzip, a corrupt .npz, images
of the wrong shape, range or dtype, a file where a directory should be, a workdir) are written
by INPUTS before it runs."""

import glob
import gzip
import io
import math
import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from helpers import CONFIGS, ROOT, load_config, run_cli
from jaxgen import config as config_lib
from jaxgen.types import ConfigError

TRAIN = ("train.py", "--config", "configs/vae_fashion_mnist.py:tiny", "--workdir", "{tmp}/run")
RESUME = (*TRAIN[:-1], "{tmp}/old_run")  # an existing workdir, which must come out unchanged
SAMPLE, EVALUATE = ("-m", "jaxgen.sample"), ("-m", "jaxgen.evaluate")
SCORE = (*EVALUATE, "--dataset", "fashion_mnist", "--metrics", "fid", "--images")
INCEPTION = ("-m", "jaxgen.metrics.inception")
PREPARE, EXPORT = ("-m", "jaxgen.data.prepare"), ("-m", "jaxgen.tools.export_classifier")
NO_TFDS = "--config.data.data_dir={tmp}/tfds"  # no prepared TFDS dataset there: offline files

# (command line, exit status, the program named, what the last line of stderr says). A leading
# NAME=value sets an environment variable; {tmp} is the row's own folder, where INPUTS writes
# the files the row names first. Every row also checks that no file already there (nor the
# shipped extractor weights) was changed. Issue 16's count: 74 tried, 74 clear (one line, the
# right status, no traceback), nothing lost.
BAD_INPUT = {
    "batch_size 0": (
        (*TRAIN, "--config.batch_size=0"), 2, "train.py",
        "config.batch_size=0; expected a positive multiple of the device count (1)"),
    "negative num_steps": (
        (*TRAIN, "--config.num_steps=-5"), 2, "train.py",
        "config.num_steps=-5; expected an integer >= 0"),
    "negative lr": (
        (*TRAIN, "--config.optimizer.lr=-0.001"), 2, "train.py",
        "config.optimizer.lr=-0.001; expected a learning rate > 0"),
    "empty split": (
        (*TRAIN, "--config.data.train_split="), 2, "train.py",
        "config.data.train_split=''; expected a non-empty split name"),
    "unknown split": (
        (*TRAIN, "--config.data.eval_split=validation"), 2, "train.py",
        "unknown split 'validation' for fashion_mnist; expected one of ['train', 'test']"),
    "unknown dataset": (
        (*TRAIN, "--config.data.name=fashion_mnistt"), 2, "train.py",
        "config.data.name: unknown dataset 'fashion_mnistt'; expected one of"),
    "pad_to too small": (
        (*TRAIN, "--config.data.pad_to=20"), 2, "train.py",
        "config.data.pad_to=20; expected 0 or a size no smaller than the 28x28 images"),
    "unknown method": (
        (*TRAIN, "--config.method=vea"), 2, "train.py", "unknown method 'vea'; expected one of"),
    "unknown config key": (
        (*TRAIN, "--config.nonexistent=1"), 2, "train.py",
        "flag --config.nonexistent: config has no key 'nonexistent'"),
    "misspelt nested key": (
        (*TRAIN, "--config.optimizer.lrr=1e-3"), 2, "train.py",
        "flag --config.optimizer.lrr: config.optimizer has no key 'lrr' (did you mean 'lr'?)"),
    "bad variant": (
        ("train.py", "--config", "configs/vae_fashion_mnist.py:tiny,huge", "--workdir", "{tmp}/r"),
        2, "train.py", "flag --config=configs/vae_fashion_mnist.py:tiny,huge: config "
        "vae_fashion_mnist: unknown word 'huge' in 'tiny,huge'; it takes, comma-separated: tiny; "
        "beta4; conv"),
    "missing config file": (
        ("train.py", "--config", "configs/nope.py", "--workdir", "{tmp}/r"), 2, "train.py",
        "flag --config=configs/nope.py: [Errno 2] No such file or directory: 'configs/nope.py'"),
    "missing data files": (
        (*TRAIN, "--config.data.name=idx:{tmp}/no_idx"), 1, "train.py",
        "{tmp}/no_idx/train-images-idx3-ubyte[.gz]: IDX file not found"),
    "sample: no workdir": (
        (*SAMPLE, "--workdir", "{tmp}/missing"), 1, "python -m jaxgen.sample",
        "{tmp}/missing/config.json: no config.json; is '{tmp}/missing' a jaxgen workdir?"),
    "evaluate: no workdir": (
        (*EVALUATE, "--workdir", "{tmp}/missing"), 1, "python -m jaxgen.evaluate",
        "{tmp}/missing/config.json: no config.json"),
    "evaluate: bad --step": (
        (*EVALUATE, "--workdir", "{tmp}/missing", "--step", "last"), 2,
        "python -m jaxgen.evaluate", "--step takes a step number or 'best', got 'last'"),
    "inception: no command": (
        INCEPTION, 2, "python -m jaxgen.metrics.inception",
        "expected a command: fetch | convert PTH NPZ"),
    "inception: missing .pth": (
        (*INCEPTION, "convert", "{tmp}/nope.pth", "{tmp}/nope.npz"), 1,
        "python -m jaxgen.metrics.inception convert", "{tmp}/nope.pth"),
    "export: unknown name": (
        ("-m", "jaxgen.tools.export_classifier", "--workdir", "{tmp}", "--name", "cifar10"), 2,
        "python -m jaxgen.tools.export_classifier",
        "flag --name=cifar10: value should be one of <fashion_mnist|mnist>"),
    "prepare: no --data_dir": (
        ("-m", "jaxgen.data.prepare", "mnist"), 2, "python -m jaxgen.data.prepare",
        "flag --data_dir=None: Flag --data_dir must have a value other than None."),
    # -- data files (IDX, gzip) and where the offline sources look for them
    "idx: bad magic": (
        (*RESUME, "--config.data.name=idx:{tmp}/idx_bad_magic"), 1, "train.py",
        "{tmp}/idx_bad_magic/train-images-idx3-ubyte: IDX magic number 0x00000801, expected "
        "0x00000803 for images"),
    "idx: labels' magic": (
        (*RESUME, "--config.data.name=idx:{tmp}/idx_bad_labels"), 1, "train.py",
        "{tmp}/idx_bad_labels/train-labels-idx1-ubyte: IDX magic number 0x00000803, expected "
        "0x00000801 for labels"),
    "idx: no header": (
        (*TRAIN, "--config.data.name=idx:{tmp}/idx_short"), 1, "train.py",
        "{tmp}/idx_short/train-images-idx3-ubyte: 2 bytes, too short for an IDX header"),
    "idx: truncated data": (
        (*RESUME, "--config.data.name=idx:{tmp}/idx_truncated"), 1, "train.py",
        "{tmp}/idx_truncated/train-images-idx3-ubyte: expected 7840 bytes of data for shape "
        "(10, 28, 28), got 3920"),
    "idx: truncated gzip": (
        (*RESUME, "--config.data.name=idx:{tmp}/idx_truncated_gz"), 1, "train.py",
        "{tmp}/idx_truncated_gz/train-images-idx3-ubyte.gz: corrupt or truncated gzip file"),
    "idx: not gzip": (
        (*TRAIN, "--config.data.name=idx:{tmp}/idx_not_gz"), 1, "train.py",
        "{tmp}/idx_not_gz/train-images-idx3-ubyte.gz: corrupt or truncated gzip file"),
    "idx: counts differ": (
        (*RESUME, "--config.data.name=idx:{tmp}/idx_counts"), 1, "train.py",
        "{tmp}/idx_counts/train-images-idx3-ubyte holds 10 images but "
        "{tmp}/idx_counts/train-labels-idx1-ubyte holds 8 labels"),
    "env: missing data dir": (
        ("JAXGEN_FASHION_MNIST_DIR={tmp}/nowhere", *RESUME, NO_TFDS), 1, "train.py",
        "$JAXGEN_FASHION_MNIST_DIR={tmp}/nowhere: no such directory"),
    "env: a file, not a dir": (
        ("JAXGEN_MNIST_DIR={tmp}/afile", *TRAIN, "--config.data.name=mnist", NO_TFDS), 1,
        "train.py", "$JAXGEN_MNIST_DIR={tmp}/afile: not a directory"),
    "env: dir without files": (
        ("JAXGEN_FASHION_MNIST_DIR={tmp}/idx_empty", *TRAIN, NO_TFDS), 1, "train.py",
        "IDX files in {tmp}/idx_empty: no train-images-idx3-ubyte[.gz]"),
    "env: corrupt files": (
        ("JAXGEN_FASHION_MNIST_DIR={tmp}/idx_truncated_gz", *RESUME, NO_TFDS), 1, "train.py",
        "{tmp}/idx_truncated_gz/train-images-idx3-ubyte.gz: corrupt or truncated gzip file"),
    # -- config keys: types and values, against an existing workdir
    "batch_size a word": (
        (*RESUME, "--config.batch_size=abc"), 2, "train.py",
        "flag --config.batch_size=abc: invalid literal for int()"),
    "num_steps a float": (
        (*RESUME, "--config.num_steps=1.5"), 2, "train.py",
        "flag --config.num_steps=1.5: invalid literal for int()"),
    "lr a word": (
        (*RESUME, "--config.optimizer.lr=fast"), 2, "train.py",
        "flag --config.optimizer.lr=fast: could not convert string to float: 'fast'"),
    "download a word": (
        (*RESUME, "--config.data.download=maybe"), 2, "train.py",
        "flag --config.data.download=maybe: ('Non-boolean argument to boolean flag', 'maybe')"),
    "unknown preprocessing": (
        (*RESUME, "--config.data.preprocess=binary"), 2, "train.py",
        "config.data.preprocess='binary'; expected one of binarize,"),
    "unknown best_mode": (
        (*RESUME, "--config.best_mode=lowest"), 2, "train.py",
        "config.best_mode='lowest'; expected 'min' or 'max'"),
    "malformed split": (
        (*RESUME, "--config.data.train_split=train[:abc]"), 2, "train.py",
        "malformed split 'train[:abc]': bound 'abc' is neither an integer nor a percentage"),
    "split past its end": (
        (*RESUME, "--config.data.train_split=train[:70000]"), 2, "train.py",
        "split 'train[:70000]': bound 70000 is outside a split of 60000 examples"),
    "unknown eval metric": (
        (*RESUME, "--config.evals.samples.every=5", "--config.evals.samples.metrics=fidd"), 2,
        "train.py", "config.evals.samples: metrics='fidd'; expected any of fid, kid, is, pr"),
    "best_metric not logged": (
        (*RESUME, "--config.best_metric=eval/fid"), 2, "train.py",
        "config.best_metric='eval/fid' is not an eval metric of this run"),
    # -- unwritable places
    "workdir is a file": (
        (*TRAIN[:-1], "{tmp}/afile"), 1, "train.py", "--workdir {tmp}/afile: {tmp}/afile is a file, not a directory"),
    "workdir under a file": (
        (*TRAIN[:-1], "{tmp}/afile/run"), 1, "train.py",
        "--workdir {tmp}/afile/run: {tmp}/afile is a file, not a directory"),
    "workdir read-only": (
        (*TRAIN[:-1], "{tmp}/readonly/run"), 1, "train.py",
        "--workdir {tmp}/readonly/run: cannot write in {tmp}/readonly"),
    "sample: --out under a file": (
        (*SAMPLE, "--workdir", "{tmp}/old_run", "--out", "{tmp}/afile/s.png"), 1,
        "python -m jaxgen.sample", "--out {tmp}/afile/s.png: {tmp}/afile is a file, not a "
        "directory"),
    "sample: --out read-only": (
        (*SAMPLE, "--workdir", "{tmp}/old_run", "--out", "{tmp}/readonly/new/s.png"), 1,
        "python -m jaxgen.sample", "--out {tmp}/readonly/new/s.png: cannot write in "
        "{tmp}/readonly"),
    "sample: no checkpoint": (
        (*SAMPLE, "--workdir", "{tmp}/old_run"), 1, "python -m jaxgen.sample",
        "{tmp}/old_run/checkpoints holds no checkpoint"),
    "evaluate: --out under a file": (
        (*SCORE, "{tmp}/images_ok.npz", "--out", "{tmp}/afile/m.json"), 1,
        "python -m jaxgen.evaluate", "--out {tmp}/afile/m.json: {tmp}/afile is a file, not a "
        "directory"),
    # -- images for evaluate: files, shapes, ranges, dtypes
    "images: missing .npz": (
        (*SCORE, "{tmp}/nope.npz"), 1, "python -m jaxgen.evaluate", "{tmp}/nope.npz"),
    "images: not an .npz": (
        (*SCORE, "{tmp}/garbage.npz"), 1, "python -m jaxgen.evaluate",
        "--images {tmp}/garbage.npz: not a readable .npz file"),
    "images: truncated .npz": (
        (*SCORE, "{tmp}/truncated.npz"), 1, "python -m jaxgen.evaluate",
        "--images {tmp}/truncated.npz: not a readable .npz file"),
    "images: no `images` array": (
        (*SCORE, "{tmp}/no_images.npz"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/no_images.npz: no `images` array (found ['samples'])"),
    "images: two channels": (
        (*SCORE, "{tmp}/images_2ch.npz"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/images_2ch.npz: expected images [N, H, W, 1 or 3], got (4, 28, 28, 2)"),
    "images: wrong size": (
        (*SCORE, "{tmp}/images_16.npz"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/images_16.npz: images of 16x16x1, but those of fashion_mnist test are "
        "28x28x1"),
    "images: NaN": (
        (*SCORE, "{tmp}/images_nan.npz"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/images_nan.npz: float images must lie in [0, 1], got [nan, nan]"),
    "images: none": (
        (*SCORE, "{tmp}/images_none.npz"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/images_none.npz: no images"),
    "images: no PNGs": (
        (*SCORE, "{tmp}/png_empty"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/png_empty: no .png files in the folder"),
    "images: corrupt PNG": (
        (*SCORE, "{tmp}/png_corrupt"), 1, "python -m jaxgen.evaluate", "{tmp}/png_corrupt/a.png"),
    "images: PNG sizes differ": (
        (*SCORE, "{tmp}/png_sizes"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/png_sizes: {tmp}/png_sizes/b.png is 16x16, {tmp}/png_sizes/a.png 28x28"),
    "images: RGBA PNGs": (
        (*SCORE, "{tmp}/png_rgba"), 2, "python -m jaxgen.evaluate",
        "--images {tmp}/png_rgba: expected images [N, H, W, 1 or 3], got (1, 28, 28, 4)"),
    "images: unknown dataset": (
        (*EVALUATE, "--images", "{tmp}/images_ok.npz", "--dataset", "fashion", "--metrics", "fid"),
        2, "python -m jaxgen.evaluate", "unknown dataset 'fashion'"),
    "images: no domain extractor": (
        (*EVALUATE, "--images", "{tmp}/images_8.npz", "--dataset", "digits", "--metrics", "fid"),
        2, "python -m jaxgen.evaluate", "no domain extractor for 'digits'"),
    # -- weights
    "inception: corrupt weights": (
        (*SCORE, "{tmp}/images_ok.npz", "--extractor", "inception", "--inception_weights",
         "{tmp}/garbage.npz"), 1, "python -m jaxgen.evaluate",
        "{tmp}/garbage.npz: not an .npz file, or a truncated one"),
    "inception: truncated weights": (
        (*SCORE, "{tmp}/images_ok.npz", "--extractor", "inception", "--inception_weights",
         "{tmp}/truncated.npz"), 1, "python -m jaxgen.evaluate",
        "{tmp}/truncated.npz: not an .npz file, or a truncated one"),
    "inception: other weights": (
        (*SCORE, "{tmp}/images_ok.npz", "--extractor", "inception", "--inception_weights",
         "{tmp}/no_images.npz"), 1, "python -m jaxgen.evaluate",
        "{tmp}/no_images.npz: not the FID Inception weights: variables"),
    "inception: corrupt .pth": (
        (*INCEPTION, "convert", "{tmp}/garbage.pth", "{tmp}/out.npz"), 1,
        "python -m jaxgen.metrics.inception convert",
        "{tmp}/garbage.pth: not a PyTorch checkpoint that torch.load can read"),
    "inception: other .pth": (
        (*INCEPTION, "convert", "{tmp}/other.pth", "{tmp}/out.npz"), 1,
        "python -m jaxgen.metrics.inception convert",
        "{tmp}/other.pth: not the FID Inception weights: unexpected entry 'layer.weight'"),
    "inception: convert's arguments": (
        (*INCEPTION, "convert", "{tmp}/garbage.pth"), 2,
        "python -m jaxgen.metrics.inception convert", "takes PTH NPZ"),
    # -- jaxgen.data.prepare and jaxgen.tools.export_classifier
    "prepare: unknown name": (
        (*PREPARE, "cifar10", "--data_dir", "{tmp}/tfds"), 2, "python -m jaxgen.data.prepare",
        "unknown dataset 'cifar10'; expected fashion_mnist or mnist"),
    "prepare: --data_dir under a file": (
        (*PREPARE, "fashion_mnist", "--data_dir", "{tmp}/afile/tfds"), 1,
        "python -m jaxgen.data.prepare",
        "--data_dir {tmp}/afile/tfds: {tmp}/afile is a file, not a directory"),
    "prepare: --data_dir read-only": (
        (*PREPARE, "fashion_mnist", "--data_dir", "{tmp}/readonly"), 1,
        "python -m jaxgen.data.prepare", "--data_dir {tmp}/readonly: cannot write in "
        "{tmp}/readonly"),
    "prepare: env missing dir": (
        ("JAXGEN_MNIST_DIR={tmp}/nowhere", *PREPARE, "mnist", "--data_dir", "{tmp}/tfds"), 1,
        "python -m jaxgen.data.prepare", "$JAXGEN_MNIST_DIR={tmp}/nowhere: no such directory"),
    "export: not a classifier": (
        (*EXPORT, "--workdir", "{tmp}/old_run", "--name", "fashion_mnist"), 2,
        "python -m jaxgen.tools.export_classifier",
        "{tmp}/old_run: a vae run, not a classifier"),
    "export: no workdir": (
        (*EXPORT, "--workdir", "{tmp}/missing", "--name", "mnist"), 1,
        "python -m jaxgen.tools.export_classifier", "{tmp}/missing/config.json: no config.json"),
}


def _idx(magic: int, *shape: int) -> bytes:
  """An IDX file of zeros: magic number, big-endian sizes, then the uint8 data."""
  return np.array([magic, *shape], ">u4").tobytes() + bytes(math.prod(shape))


IMAGES, LABELS = _idx(0x803, 10, 28, 28), _idx(0x801, 10)


def _bytes(data: bytes):
  return lambda path: Path(path).write_bytes(data)


def _folder(files=None):
  """A folder of files: {name: a function of the path that writes it}."""
  def write(path):
    os.mkdir(path)
    for name, write_file in (files or {}).items():
      write_file(os.path.join(path, name))
  return write


def _idx_folder(images=IMAGES, labels=LABELS, gz=False):
  """train-images and train-labels IDX files; with gz, .gz files (the labels compressed here)."""
  suffix = ".gz" if gz else ""
  return _folder({f"train-images-idx3-ubyte{suffix}": _bytes(images),
                  f"train-labels-idx1-ubyte{suffix}": _bytes(gzip.compress(labels) if gz
                                                             else labels)})


def _npz(**arrays):
  return lambda path: np.savez(path, **arrays)


def _png(shape):
  from PIL import Image
  return lambda path: Image.fromarray(np.zeros(shape, np.uint8)).save(path)


def _pth(path):
  torch = pytest.importorskip("torch")
  torch.save({"layer.weight": torch.zeros(2)}, path)


def _npz_bytes(**arrays) -> bytes:
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  return buffer.getvalue()


def _old_run(path):
  """A workdir as a run leaves it (its config, metrics and a sample grid; no checkpoint)."""
  config_lib.save(load_config("vae_fashion_mnist", "tiny"), path)
  _folder({"step_000010.png": _png((28, 28))})(os.path.join(path, "samples"))
  _bytes(b'{"step": 10, "train/loss": 300.0}\n')(os.path.join(path, "metrics.jsonl"))


def _writable(path) -> bool:
  try:
    tempfile.TemporaryFile(dir=path).close()
    return True
  except OSError:
    return False


def _read_only(path):
  """A folder nobody can write in: mode 555, and for root (whom modes do not stop) immutable
  where the filesystem allows; the row is skipped where neither works."""
  os.mkdir(path)
  os.chmod(path, 0o555)
  if _writable(path):
    subprocess.run(["chattr", "+i", path], capture_output=True, check=False)
  if _writable(path):
    pytest.skip(f"cannot make {path} read-only here")


def _writable_again(path):
  if os.path.isdir(path):
    subprocess.run(["chattr", "-i", path], capture_output=True, check=False)
    os.chmod(path, 0o755)


ONES = np.ones((4, 28, 28, 1), np.float32)
# What a row's {tmp}/NAME is: each written only for the rows that name it.
INPUTS = {
    "idx_bad_magic": _idx_folder(images=LABELS),
    "idx_bad_labels": _idx_folder(labels=IMAGES),
    "idx_short": _idx_folder(images=b"\x00\x00"),
    "idx_truncated": _idx_folder(images=IMAGES[:16 + 5 * 28 * 28]),
    "idx_truncated_gz": _idx_folder(images=gzip.compress(IMAGES)[:-12], gz=True),
    "idx_not_gz": _idx_folder(images=IMAGES, gz=True),
    "idx_counts": _idx_folder(labels=_idx(0x801, 8)),
    "idx_empty": _folder(),
    "afile": _bytes(b"a file where a folder is expected\n"),
    "readonly": _read_only,
    "old_run": _old_run,
    "garbage.npz": _bytes(b"not an npz file"),
    "truncated.npz": _bytes(_npz_bytes(images=ONES)[:300]),
    "no_images.npz": _npz(samples=ONES),
    "images_ok.npz": _npz(images=ONES),
    "images_2ch.npz": _npz(images=np.ones((4, 28, 28, 2), np.float32)),
    "images_16.npz": _npz(images=np.zeros((4, 16, 16, 1), np.uint8)),
    "images_8.npz": _npz(images=np.zeros((4, 8, 8, 1), np.uint8)),
    "images_nan.npz": _npz(images=ONES * np.nan),
    "images_none.npz": _npz(images=np.zeros((0, 28, 28, 1), np.uint8)),
    "png_empty": _folder(),
    "png_corrupt": _folder({"a.png": _bytes(b"not a png")}),
    "png_sizes": _folder({"a.png": _png((28, 28)), "b.png": _png((16, 16))}),
    "png_rgba": _folder({"a.png": _png((28, 28, 4))}),
    "garbage.pth": _bytes(b"not a torch file"),
    "other.pth": _pth,
}
_ENV = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
WEIGHTS = os.path.join(ROOT, "jaxgen", "metrics", "weights")  # what export_classifier writes


def _files(*roots) -> dict[str, tuple[int, int]]:
  """(size, mtime) of every file under `roots`."""
  return {path: (os.stat(path).st_size, os.stat(path).st_mtime_ns)
          for root in roots for path in glob.glob(os.path.join(root, "**"), recursive=True)
          if os.path.isfile(path)}


def _last_line(text: str) -> str:
  return [line for line in text.splitlines() if line.strip()][-1]


@pytest.mark.parametrize("args, status, prog, message", BAD_INPUT.values(), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_and_a_status(tmp_path, args, status, prog, message):
  args = [a.format(tmp=tmp_path) for a in args]
  env = dict(_ENV.match(a).groups() for a in args if _ENV.match(a))
  named = [name for name in INPUTS
           if any(re.search(re.escape(f"{tmp_path}/{name}") + "(/|$)", a) for a in args)]
  try:
    for name in named:
      INPUTS[name](str(tmp_path / name))
    before = _files(tmp_path, WEIGHTS)
    proc = run_cli(*args[len(env):], env=env, check=False, timeout=300)
  finally:
    _writable_again(tmp_path / "readonly")
  output = proc.stdout + proc.stderr
  assert "Traceback" not in output, output[-3000:]
  assert (proc.returncode, _last_line(proc.stderr)[:len(prog) + 2]) == (status, f"{prog}: "), \
      proc.stderr[-3000:]
  assert message.format(tmp=tmp_path) in _last_line(proc.stderr)
  after = _files(tmp_path, WEIGHTS)
  assert {p: after.get(p) for p in before} == before, "a file already there was changed"


def test_debug_prints_the_traceback_then_the_same_line(tmp_path):
  args = [a.format(tmp=tmp_path) for a in TRAIN]
  proc = run_cli(*args, "--config.batch_size=0", "--debug", check=False, timeout=300)
  assert proc.returncode == 2
  assert "Traceback (most recent call last)" in proc.stderr and "ConfigError" in proc.stderr
  assert _last_line(proc.stderr) == ("train.py: config.batch_size=0; expected a positive "
                                     "multiple of the device count (1)")


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_config_is_valid(name):
  config_lib.validate(load_config(name, ""), num_devices=1)
  config_lib.validate(load_config(name, "tiny"), num_devices=8)  # as tests train them


@pytest.mark.parametrize("key, value, message", [
    ("batch_size", 60, r"config.batch_size=60; expected a positive multiple of the device "
     r"count \(8\)"),
    ("eval.batch_size", 0, r"config.eval.batch_size=0; expected a positive integer"),
    ("sample_every", -1, r"config.sample_every=-1; expected an integer >= 0"),
    ("optimizer.lr", 0.0, r"config.optimizer.lr=0.0; expected a learning rate > 0"),
    ("optimizer.lr_values", (1e-3, -1e-4), r"config.optimizer.lr_values=\(0.001, -0.0001\); "
     r"expected learning rates > 0"),
    ("data.eval_split", " ", r"config.data.eval_split=' '; expected a non-empty split name"),
    ("data.pad_to", -2, r"config.data.pad_to=-2; expected 0 \(no padding\) or an image size"),
    ("data.preprocess", "binary", r"config.data.preprocess='binary'; expected one of binarize, "),
    ("best_mode", "lowest", r"config.best_mode='lowest'; expected 'min' or 'max'"),
    ("evals.samples.num", -3, r"config.evals.samples.num=-3; expected -1"),
])
def test_validate_names_the_key_the_value_and_what_was_expected(key, value, message):
  c = load_config("vae_fashion_mnist", "tiny")
  *parents, leaf = key.split(".")
  target = c
  for p in parents:
    target = target[p]
  target[leaf] = value
  with pytest.raises(ConfigError, match=f"^{message}"):
    config_lib.validate(c, num_devices=8)


def test_pad_to_is_checked_against_the_images():
  c = load_config("vae_fashion_mnist", "tiny")
  c.data.pad_to = 32
  config_lib.validate_image_size(c, (28, 28, 1))
  with pytest.raises(ConfigError, match=r"pad_to=32; expected 0 or a size no smaller than the "
                     r"40x30 images of fashion_mnist"):
    config_lib.validate_image_size(c, (40, 30, 1))
  with pytest.raises(ConfigError, match=r"pad_to=32; expected 0: fashion_mnist holds points"):
    config_lib.validate_image_size(c, (2,))
