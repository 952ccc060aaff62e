"""jaxgen.cli and jaxgen.config.validate: an error a user can cause, on any command line, ends in
one line on stderr that names the key or file and what was expected; exit status 2 for a usage
error (flags, config keys and values), 1 for a failure (a missing file); a traceback only with
--debug. Every bad input fails before anything is compiled, so each subprocess is cheap."""

import pytest

from helpers import CONFIGS, load_config, run_cli
from jaxgen import config as config_lib
from jaxgen.types import ConfigError

TRAIN = ("train.py", "--config", "configs/vae_fashion_mnist.py:tiny", "--workdir", "{tmp}/run")
SAMPLE, EVALUATE = ("-m", "jaxgen.sample"), ("-m", "jaxgen.evaluate")
INCEPTION = ("-m", "jaxgen.metrics.inception")

# (command line, exit status, the program named, what the last line of stderr says)
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
}


def _last_line(text: str) -> str:
  return [line for line in text.splitlines() if line.strip()][-1]


@pytest.mark.parametrize("args, status, prog, message", BAD_INPUT.values(), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_and_a_status(tmp_path, args, status, prog, message):
  proc = run_cli(*(a.format(tmp=tmp_path) for a in args), check=False, timeout=300)
  output = proc.stdout + proc.stderr
  assert "Traceback" not in output, output[-3000:]
  assert (proc.returncode, _last_line(proc.stderr)[:len(prog) + 2]) == (status, f"{prog}: "), \
      proc.stderr[-3000:]
  assert message.format(tmp=tmp_path) in _last_line(proc.stderr)


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
