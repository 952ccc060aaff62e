"""jaxgen.progress: bars shown on a terminal or when forced, never when switched off, and the
totals and descriptions of the loops they wrap."""

import io
import re

import pytest

from helpers.progress import record_bars
from jaxgen import progress


class Terminal(io.StringIO):
  def isatty(self):
    return True


@pytest.mark.parametrize("switch, tty, shown", [
    (None, False, False), (None, True, True),  # the default follows stderr
    (True, False, True), (False, True, False)])  # --progress / --noprogress win
def test_bars_follow_the_terminal_unless_switched(monkeypatch, switch, tty, shown):
  stderr = Terminal() if tty else io.StringIO()
  monkeypatch.setattr("sys.stderr", stderr)
  monkeypatch.setattr(progress, "_enabled", None)
  progress.set_enabled(switch)
  assert progress.enabled() is shown
  with progress.bar(30, "IWAE-1000 bound, test split") as bar:
    assert bar.disable is not shown
    bar.update(30)
  text = stderr.getvalue()
  assert ("IWAE-1000 bound, test split: 100%" in text and "30/30" in text) is shown
  assert bool(text) is shown
  with progress.bar(3, "x", show=False) as hidden:  # e.g. processes other than 0
    assert hidden.disable


def test_track_counts_units_of_each_item_once_consumed(monkeypatch):
  bars = record_bars(monkeypatch)
  batches = [[0] * 4, [0] * 4, [0] * 2]
  seen = []
  for batch in progress.track(batches, total=10, desc="features of 10 samples"):
    seen.append(len(batch))
    assert bars[0].n == sum(seen[:-1])  # counted after the loop's body, not before
  assert seen == [4, 4, 2] and bars[0].updates == [4, 4, 2]
  assert re.search(r"features of 10 samples: 100%.* 10/10 .*img/s", bars[0].text)
