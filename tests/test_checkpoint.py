"""jaxgen.checkpoint: the best checkpoint takes only finite, strict improvements of its own
metric."""

import jax.numpy as jnp
import pytest

from helpers import _best_steps
from jaxgen import checkpoint


def test_best_takes_only_finite_strict_improvements_of_its_own_metric(tmp_path):
  state = {"w": jnp.arange(3.0)}
  best = checkpoint.Best(str(tmp_path), "eval/fid", "min")
  assert not best.update(1, float("nan"), state)
  assert best.update(2, 5.0, state)
  assert not best.update(3, float("-inf"), state)
  assert not best.update(4, 5.0, state)  # a tie keeps the earlier step
  assert not best.update(5, 6.0, state)
  assert best.update(6, 4.0, state)
  best.close()
  assert checkpoint.read_best(tmp_path) == {"metric": "eval/fid", "mode": "min", "value": 4.0,
                                            "step": 6}
  assert _best_steps(tmp_path) == [6]
  with pytest.raises(ValueError, match=r"keeps the best eval/fid \(min\).*'eval/kid'"):
    checkpoint.Best(str(tmp_path), "eval/kid", "min")
  maximize = checkpoint.Best(str(tmp_path / "max"), "eval/is", "max")
  assert maximize.update(1, 2.0, state) and not maximize.update(2, 1.0, state)
  maximize.close()
