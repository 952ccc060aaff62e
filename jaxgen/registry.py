"""Look a component up by name in an explicit table, or by a "module:attribute" import path,
so researchers plug in their own losses or models without editing jaxgen."""

import importlib
from typing import Any, Mapping

import ml_collections


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


def model_config(name: str, defaults: Mapping[str, Mapping[str, Any]]) -> ml_collections.ConfigDict:
  """`config.model` for model `name`: its name and only its own keys, with their defaults. A
  name outside `defaults` (a "module:builder" path) gets its name alone: its builder reads the
  keys the config sets."""
  return ml_collections.ConfigDict(dict(name=name, **defaults.get(name, {})))
