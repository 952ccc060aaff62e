"""The progress bars a test's code opens (jaxgen.progress), recorded."""

import io

from tqdm import tqdm

from jaxgen import progress


class RecordedBar(tqdm):
  """A real tqdm that writes to a buffer (`text`) and keeps every update's count."""

  def __init__(self, *args, **kwargs):
    self.stream = io.StringIO()
    super().__init__(*args, file=self.stream, **kwargs)
    self.updates = []

  def update(self, n=1):
    if not self.disable:
      self.updates.append(n)
    return super().update(n)

  @property
  def text(self) -> str:
    return self.stream.getvalue()


def record_bars(monkeypatch, enabled: bool | None = True) -> list[RecordedBar]:
  """The bars opened from now on, in order, shown or not as `enabled` says (see
  progress.set_enabled)."""
  bars = []

  def make(*args, **kwargs):
    bars.append(RecordedBar(*args, **kwargs))
    return bars[-1]
  monkeypatch.setattr(progress, "tqdm", make)
  monkeypatch.setattr(progress, "_enabled", enabled)
  return bars
