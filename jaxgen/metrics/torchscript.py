"""The tensors of a TorchScript file, read with pickle and numpy: no torch needed.

A TorchScript file (`torch.jit.save`) is a zip archive `<name>/...` whose `data.pkl` pickles the
module tree: each module an object of a `__torch__.*` class whose state holds its attributes,
each tensor a call to `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`, and
each storage a persistent id `("storage", torch.FloatStorage, key, device, numel)` naming the
raw little-endian bytes in `<name>/data/<key>`. This module unpickles that tree with only these
globals allowed (anything else is refused, so no code from the file runs) and returns the
tensors by dotted attribute path, as `torch.jit.load(path).state_dict()` names them.
"""

import collections
import io
import pickle
import zipfile
from typing import IO, Any, Mapping

import numpy as np

# The storage classes torch pickles, by their numpy dtype (bfloat16 has none and is refused).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
    "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?",
}

_LIST_BUILDERS = ("build_intlist", "build_doublelist", "build_boollist", "build_tensorlist")


class ScriptObject:
  """A pickled TorchScript module or object: its attributes, as stored. Each `__torch__` class
  of the file becomes a subclass whose `type_name` is the class's qualified name."""
  type_name = ""
  attributes: Mapping[str, Any] = {}  # an object pickled without state; replaced, never mutated

  def __setstate__(self, state: Any) -> None:
    if not isinstance(state, dict):  # a class with its own __getstate__: no attribute names
      raise pickle.UnpicklingError(f"unsupported: {self.type_name} pickles its state as a "
                                   f"{type(state).__name__}, not a dict of attributes")
    self.attributes = state


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *unused) -> np.ndarray:
  """torch._utils._rebuild_tensor_v2 on a numpy storage: a copy, so no view outlives the file."""
  del unused  # requires_grad, backward hooks, metadata: nothing for inference weights
  last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
  if offset < 0 or min(stride, default=0) < 0 or last >= storage.size:
    raise ValueError(f"tensor of size {size}, stride {stride}, offset {offset} lies outside its "
                     f"storage of {storage.size} elements")
  view = np.lib.stride_tricks.as_strided(storage[offset:], size,
                                         [s * storage.itemsize for s in stride], writeable=False)
  return np.array(view)


class _Unpickler(pickle.Unpickler):

  def __init__(self, file: IO[bytes], archive: zipfile.ZipFile, prefix: str):
    super().__init__(file)
    self._archive, self._prefix = archive, prefix
    self._storages: dict[str, np.ndarray] = {}
    self._classes: dict[str, type] = {}

  def find_class(self, module: str, name: str) -> Any:
    if module == "torch._utils" and name == "_rebuild_tensor_v2":
      return _rebuild_tensor
    if module == "torch" and name in _STORAGE_DTYPES:
      return name  # only a tag: persistent_load maps it to the dtype
    if module == "torch.jit._pickle" and name in _LIST_BUILDERS:
      return list  # List[int] etc. attributes, such as a convolution's padding
    if module == "collections" and name == "OrderedDict":
      return collections.OrderedDict
    if module == "__torch__" or module.startswith("__torch__."):
      qualified = f"{module}.{name}"
      if qualified not in self._classes:
        self._classes[qualified] = type(name, (ScriptObject,), {"type_name": qualified})
      return self._classes[qualified]
    raise pickle.UnpicklingError(f"unsupported global {module}.{name} in a TorchScript data.pkl")

  def persistent_load(self, pid: Any) -> np.ndarray:
    if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
      raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}; expected "
                                   "('storage', type, key, device, numel)")
    _, storage_type, key, _, numel = pid
    if storage_type not in _STORAGE_DTYPES:
      raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
    if key not in self._storages:
      data = self._archive.read(f"{self._prefix}data/{key}")
      storage = np.frombuffer(data, _STORAGE_DTYPES[storage_type])
      if storage.size != numel:
        raise ValueError(f"{self._prefix}data/{key}: {storage.size} elements, expected {numel}")
      self._storages[key] = storage
    return self._storages[key]


def load_module(file: str | IO[bytes]) -> ScriptObject:
  """The unpickled module tree of a TorchScript file (a path or a binary file object)."""
  with zipfile.ZipFile(file) as archive:
    pickles = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pickles) != 1:
      raise ValueError(f"not a TorchScript archive: expected one <name>/data.pkl, found {pickles}")
    prefix = pickles[0].removesuffix("data.pkl")
    if f"{prefix}byteorder" in archive.namelist():
      order = archive.read(f"{prefix}byteorder").decode().strip()
      if order != "little":
        raise ValueError(f"{prefix}byteorder is {order!r}; only little-endian files are read")
    root = _Unpickler(io.BytesIO(archive.read(pickles[0])), archive, prefix).load()
  if not isinstance(root, ScriptObject):
    raise ValueError(f"not a TorchScript module: data.pkl holds a {type(root).__name__}")
  return root


def state_dict(file: str | IO[bytes]) -> dict[str, np.ndarray]:
  """{"net.layers.conv.weight": array, ...}: every tensor attribute of the module tree in a
  TorchScript file, by dotted path, in the order the file stores them."""
  out = {}

  def visit(obj: ScriptObject, prefix: str) -> None:
    for name, value in obj.attributes.items():
      if isinstance(value, np.ndarray):
        out[prefix + name] = value
      elif isinstance(value, ScriptObject):
        visit(value, f"{prefix}{name}.")

  visit(load_module(file), "")
  return out
