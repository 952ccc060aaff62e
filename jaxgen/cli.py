"""How every jaxgen command line starts and ends: absl flags, then `main`; an error a user can
cause ends in one line on stderr, not a traceback.

  $ python train.py --config configs/vae_fashion_mnist.py:tiny --workdir /tmp/x \
      --config.batch_size=0
  train.py: config.batch_size=0; expected a positive multiple of the device count (1)

Exit status 2 for a usage error: a bad flag, config key or value (absl's flag errors, anything
raised while the flags and the config file are parsed, app.UsageError, jaxgen.types.ConfigError);
1 for any other failure (a missing or corrupt file, a failed computation). With --debug the
traceback comes first, then the same line and status. The entry points end in `cli.run(main)`:
train.py, jaxgen.sample, jaxgen.evaluate, jaxgen.data.prepare, jaxgen.metrics.inception and
jaxgen.tools.export_classifier.

Logs are quiet by default: orbax's INFO lines and JAX's note that a backend it merely probed
(libtpu on a CPU machine) is absent are dropped; warnings and errors are kept. Tools with long
work (training, sampling, evaluation) call `define_progress_flag` for --progress/--noprogress.
"""

import contextlib
import logging
import os
import re
import sys
import traceback
from typing import Callable, Mapping, Sequence

from absl import app, flags
from ml_collections import config_flags

from jaxgen import progress
from jaxgen.types import ConfigError

USAGE, FAILURE = 2, 1
# Exceptions whose message is written for the user: printed as it is, the rest with their type.
_WORDED = (ValueError, OSError, FloatingPointError, app.UsageError, flags.Error)
_CONFIG_FILE_ERROR = "Error whilst parsing config file"  # ml_collections puts a traceback after it
_HELP = re.compile(r"^--?(\?|help|helpshort|helpfull|helpxml)(=.*)?$")
_OVERRIDE = re.compile(r"^--?(?:no)?(\w+(?:\.\w+)+)")  # --config.a.b=1: "config.a.b"


def run(main: Callable[[list[str]], None], *, commands: Mapping[str, str] | None = None) -> None:
  """`app.run(main)` with jaxgen's errors (see the module's docstring) and a --debug flag.
  commands: for tools with subcommands (argv[1]), each command's usage, e.g.
  {"convert": "convert PTH NPZ"}; an error then names the command it came from."""
  if "debug" not in flags.FLAGS:  # defined here, not at import: importing jaxgen adds no flags
    flags.DEFINE_bool("debug", False, "On an error, print its traceback before the one-line "
                      "message.")
    _key_flag("debug")
  quiet_library_logs()
  prog = _prog()

  def guarded(argv):
    name = prog
    try:
      if "progress" in flags.FLAGS:
        progress.set_enabled(flags.FLAGS.progress)
      if commands is not None:
        if len(argv) < 2 or argv[1] not in commands:
          raise app.UsageError(f"expected a command: {' | '.join(commands.values())}")
        name = f"{prog} {argv[1]}"
      return main(argv)
    except (Exception, KeyboardInterrupt) as e:
      _exit(name, e, exit_code(e), debug=flags.FLAGS.debug)

  def parse(argv):
    try:
      unparsed = flags.FLAGS(argv)
      _load_config_files()
      return unparsed
    except SystemExit as e:  # absl's --help exits with 1 after printing the help
      sys.exit(0 if e.code == 1 and any(map(_HELP.match, argv[1:])) else e.code)
    except Exception as e:
      _exit(prog, e, USAGE, debug=_debug_requested(argv), line=_flag_error(e, argv))

  app.run(guarded, flags_parser=parse)


def define_progress_flag() -> None:
  """--progress / --noprogress, for a tool whose work can take minutes; `run` applies it."""
  flags.DEFINE_bool("progress", None, "Progress bars (rate, ETA) on stderr for long work: "
                    "training, sampling, evaluation batches, feature extraction. Default: shown "
                    "when stderr is a terminal.")
  _key_flag("progress")


def _key_flag(name: str) -> None:
  """Lists a flag defined here by --help with the tool's own flags (absl names the main module
  by sys.argv[0])."""
  flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])


class _LibraryInfoFilter(logging.Filter):
  """Drops the INFO and DEBUG records of chatty libraries: orbax logs every step of a save, and
  JAX says at INFO that a backend it probes without being asked (TPU) could not start. A
  backend the user asked for (JAX_PLATFORMS) fails with an error, and a GPU or TPU that is
  present but unusable is a warning: both are kept."""

  def filter(self, record):
    return record.levelno >= logging.WARNING or (
        "/orbax/" not in record.pathname and not record.name.startswith("jax._src.xla_bridge"))


def quiet_library_logs() -> None:
  """Keep jaxgen's INFO lines, drop the libraries' (see _LibraryInfoFilter); once per process."""
  from absl import logging as absl_logging
  handler = absl_logging.get_absl_handler()
  if not any(isinstance(f, _LibraryInfoFilter) for f in handler.filters):
    handler.addFilter(_LibraryInfoFilter())


@contextlib.contextmanager
def usage_errors():
  """A ValueError raised inside is the user's (a flag's value): a usage error, exit status 2."""
  try:
    yield
  except ValueError as e:
    raise app.UsageError(str(e)) from e


def check_writable(directory: str, flag: str) -> None:
  """Before any work: an OSError that names `flag` (e.g. "--out x/y.png") unless files can be
  written in `directory`, which exists or can be made (its nearest existing ancestor can be
  written in)."""
  existing = os.path.abspath(directory)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise NotADirectoryError(f"{flag}: {existing} is a file, not a directory")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise PermissionError(f"{flag}: cannot write in {existing}")


def exit_code(e: BaseException) -> int:
  if isinstance(e, KeyboardInterrupt):
    return 130
  return USAGE if isinstance(e, (ConfigError, app.UsageError, flags.Error)) else FAILURE


def message(e: BaseException) -> str:
  """The exception as one line; its type leads unless its message is written for the user."""
  if isinstance(e, KeyboardInterrupt):
    return "interrupted"
  text = str(e)
  if _CONFIG_FILE_ERROR in text:  # the config file's get_config raised: say what it said
    text = text.split(_CONFIG_FILE_ERROR)[0] + message(_chain(e)[-1])
  text = " ".join(line.strip() for line in text.splitlines() if line.strip())
  if isinstance(e, _WORDED) and text:
    return text
  return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _exit(name: str, e: BaseException, code: int, *, debug: bool, line: str | None = None):
  if debug:
    traceback.print_exception(e)
  line = message(e) if line is None else line
  if not debug and code == FAILURE and not isinstance(e, _WORDED):
    line += " (--debug prints the traceback)"
  sys.stdout.flush()
  print(f"{name}: {line}", file=sys.stderr, flush=True)
  sys.exit(code)


def _prog() -> str:
  """How the user ran the tool: `python -m jaxgen.x` or the script's name (train.py)."""
  spec = getattr(sys.modules["__main__"], "__spec__", None)
  return f"python -m {spec.name}" if spec is not None else sys.argv[0].rpartition("/")[2]


def _chain(e: BaseException) -> list[BaseException]:
  """e, then the exception it was raised from or during, and so on."""
  chain = [e]
  while (chain[-1].__cause__ or chain[-1].__context__) is not None:
    chain.append(chain[-1].__cause__ or chain[-1].__context__)
  return chain


def _load_config_files():
  """A config file that failed to load is only an error when its config is read: read each now,
  so that it is a usage error here."""
  for name in flags.FLAGS:
    flag = flags.FLAGS[name]
    try:
      path = config_flags.get_config_filename(flag)
      if flag.value is not None:
        flag.value.keys()
    except (TypeError, flags.Error):  # not a config file's flag, or one not given
      continue
    except OSError as e:
      raise flags.IllegalFlagValueError(f"flag --{name}={path}: {_last_line(e)}") from e


def _last_line(e: BaseException) -> str:
  return [line.strip() for line in str(e).splitlines() if line.strip()][-1]


def _flag_error(e: Exception, argv: Sequence[str]) -> str:
  """One line for an error while parsing the flags; config overrides (--config.a.b=...) of a key
  the config lacks raise a bare KeyError (inside AttributeErrors): name the flag."""
  if isinstance(e, OSError) and "Failed loading config file" in str(e):
    return _last_line(e)
  root = _chain(e)[-1]
  if isinstance(e, (AttributeError, KeyError)) and isinstance(root, KeyError) and root.args:
    key = str(root.args[0])
    overrides = [m.group(1) for m in map(_OVERRIDE.match, argv) if m]
    flag = next((o for o in overrides if key in o.split(".")[1:]), None)
    parent = flag.rpartition(f".{key}")[0] if flag else "the config"
    hint = re.search(r'Did you mean "([^"]+)"', " ".join(map(str, _chain(e))))
    return (f"flag --{flag or key}: {parent} has no key {key!r}"
            + (f" (did you mean {hint.group(1)!r}?)" if hint else ""))
  return message(e)


def _debug_requested(argv: Sequence[str]) -> bool:
  """--debug among argv, for errors before the flags are parsed (absl's spellings)."""
  debug = False
  for arg in argv[1:]:
    if arg == "--":
      break
    name, eq, value = arg.lstrip("-").partition("=")
    if arg.startswith("-") and name in ("debug", "nodebug"):
      try:
        debug = name == "debug" and (not eq or flags.BooleanParser().parse(value))
      except ValueError:
        debug = False
  return debug
