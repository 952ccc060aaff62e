"""jaxgen.metrics.torchscript: the numpy reader of TorchScript files gives torch's own tensors
and runs no code from the file."""

import os
import pickle
import zipfile

import pytest

from jaxgen.metrics import torchscript


def test_torchscript_reader_gives_torchs_tensors(fetched, scripted):
  """The numpy reader gives, bit for bit, the tensors torch.jit.load reads, under the same names
  and in the same order."""
  ours = torchscript.state_dict(fetched[1])
  theirs = scripted.state_dict()
  assert list(ours) == list(theirs)
  assert len(ours) == 4 * 94  # weight, beta, mean, var of each conv + batch-norm layer
  for name, value in theirs.items():
    value = value.numpy()
    assert ours[name].dtype == value.dtype and ours[name].shape == value.shape, name
    assert ours[name].tobytes() == value.tobytes(), name


def test_torchscript_reader_runs_no_code_from_the_file(tmp_path):
  """Only the globals a TorchScript data.pkl needs are resolved: anything else is refused."""
  path = tmp_path / "evil.pt"
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("evil/data.pkl", pickle.dumps(os.getcwd))  # pickles the global os.getcwd
  with pytest.raises(pickle.UnpicklingError, match="unsupported global posix.getcwd"):
    torchscript.state_dict(str(path))
