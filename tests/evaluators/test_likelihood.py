"""jaxgen.evaluators.likelihood: its progress bar counts each eval batch once it is computed,
and showing it changes no number."""

from helpers.progress import record_bars
from jaxgen.evaluators.likelihood import Likelihood
from jaxgen.run import Run


def test_bar_counts_computed_batches_and_changes_no_number(tmp_path, tiny_fmnist, monkeypatch):
  tiny_fmnist.eval.batch_size = 64
  run = Run(tiny_fmnist, str(tmp_path))
  state = run.init_state()
  likelihood = Likelihood(run, num=200)
  bars = record_bars(monkeypatch)
  info, shown = likelihood.run(state)
  [bar] = bars
  assert (bar.desc, bar.total, bar.unit) == ("IWAE-8 bound, test[:256] split", 200, "img")
  # A batch is counted once the next one is queued, the last once the sums reach the host.
  assert bar.updates == [64, 64, 64, 8] and info == {"num_evaluated": 200}
  assert "200/200" in bar.text
  bars = record_bars(monkeypatch, enabled=False)
  _, hidden = likelihood.run(state)
  assert bars[0].updates == [] and bars[0].text == ""
  assert hidden == shown
  run.checkpoints.close()
