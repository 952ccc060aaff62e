"""Look a component up by name in an explicit table, or by a "module:attribute" import path,
so researchers plug in their own losses or models without editing jaxgen."""

import importlib
from typing import Any, Mapping


def resolve(name: str, table: Mapping[str, Any], *, kind: str) -> Any:
  if name in table:
    return table[name]
  if ":" in name:
    module_name, _, attr = name.partition(":")
    try:
      module = importlib.import_module(module_name)
    except ImportError as e:
      raise ValueError(f"{kind} {name!r}: cannot import module {module_name!r} ({e})") from e
    try:
      return getattr(module, attr)
    except AttributeError:
      raise ValueError(f"{kind} {name!r}: module {module_name!r} has no attribute {attr!r}") from None
  raise ValueError(
      f"unknown {kind} {name!r}; expected one of {sorted(table)} or a 'module:function' path")
