"""Progress bars for work that takes more than a few seconds (training, evaluation batches,
sampling, feature extraction): tqdm on stderr, with a rate and an ETA, as the trainer's.

Shown when stderr is a terminal, unless a command line's --progress / --noprogress says
otherwise (`set_enabled`, which jaxgen.cli applies). A bar opened while another is showing (an
evaluation during training) is drawn below it and removed when done.

  for images in progress.track(batches, total=num, desc=f"Inception features of {num} samples"):
    ...
"""

import sys
from typing import Callable, Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")

_enabled: bool | None = None  # None: when stderr is a terminal


def set_enabled(enabled: bool | None) -> None:
  """True: always show bars; False: never; None (the default): when stderr is a terminal."""
  global _enabled
  _enabled = enabled


def enabled() -> bool:
  if _enabled is not None:
    return _enabled
  isatty = getattr(sys.stderr, "isatty", None)
  return bool(isatty and isatty())


def bar(total: int | None, desc: str, *, unit: str = "img", initial: int = 0,
        show: bool = True) -> tqdm:
  """A bar over `total` units of work, disabled (every call on it a no-op) where bars are off
  or `show` is False (e.g. on processes other than 0). Use it as a context manager."""
  return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
              leave=None, disable=not (show and enabled()))


def track(items: Iterable[T], *, total: int | None, desc: str, unit: str = "img",
          size: Callable[[T], int] = len) -> Iterator[T]:
  """Yields `items`, counting size(item) units once the consumer has finished with each (the
  work of producing and of using it)."""
  with bar(total, desc, unit=unit) as b:
    for item in items:
      yield item
      b.update(size(item))
