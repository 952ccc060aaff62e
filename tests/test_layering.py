"""Import layering: jaxgen's imports point down DESIGN.md's picture and form no cycle.

Every `import` and `from ... import` of every module under jaxgen/ counts, those inside functions
too (a lazy import is still a dependency, and still a cycle when the module it names imports the
importer back). A package's __init__ is a module: importing jaxgen.x.y depends on jaxgen.x.y and
on jaxgen.x, except where the importer is itself inside jaxgen.x (then jaxgen.x is already being
imported). The top-level train.py is the module `train`.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A name ending in ".*" stands for that module and everything under it; "*" for every module.
LEAVES = ("jaxgen", "jaxgen.types", "jaxgen.registry", "jaxgen.prng", "jaxgen.progress")
ENTRY_POINTS = ("train", "jaxgen.sample", "jaxgen.evaluate", "jaxgen.tools.*")
# The trainer, and what issue 15 (item 1) splits out of it: the run setup and the evaluators
# (their module names to follow that change).
TRAINER = ("jaxgen.train", "jaxgen.run", "jaxgen.evaluators.*")

# (importers, "only" or "not", imported modules, why): "only" allows just the listed modules
# (and the importer's own package), "not" forbids the listed ones.
RULES = (
    (LEAVES, "only", (), "leaf modules import nothing from jaxgen"),
    (("jaxgen.models.*",), "only", ("jaxgen.models.*", *LEAVES),
     "models are Flax modules over shared layers: no methods, losses, metrics or trainer"),
    (("jaxgen.losses",), "only", LEAVES, "losses are pure functions"),
    (("jaxgen.metrics.*",), "not", ("jaxgen.methods.*", *TRAINER),
     "metrics are functions of images and features: no methods, trainer or run setup"),
    (("jaxgen.methods.*",), "not", TRAINER, "methods know the Method contract, not the trainer"),
    (("*",), "not", ENTRY_POINTS, "nothing imports an entry point"),
)


def matches(name: str, patterns) -> bool:
  return any(p == "*" or name == p or (p.endswith(".*") and (
      name == p[:-2] or name.startswith(p[:-1]))) for p in patterns)


def modules() -> dict[str, Path]:
  """Module name -> file: every .py under jaxgen/ (a package as its __init__), and train.py."""
  found = {"train": ROOT / "train.py"}
  for path in sorted((ROOT / "jaxgen").rglob("*.py")):
    parts = path.relative_to(ROOT).with_suffix("").parts
    found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
  return found


def packages_of(name: str) -> list[str]:
  parts = name.split(".")
  return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_names(name: str, path: Path, known) -> list[tuple[int, str]]:
  """(line, module name) of every import statement in the file, relative names resolved."""
  names = []
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      names += [(node.lineno, alias.name) for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(node.level - 1):
          package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
      # `from package import submodule` imports the submodule; `from module import attr` the module.
      subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
      names += [(node.lineno, sub) for sub in subs] or [(node.lineno, base)]
  return names


def import_graph() -> dict[str, dict[str, str]]:
  """importer -> {imported jaxgen module: "file:line" of the import that brings it in}."""
  known = modules()
  graph = {}
  for name, path in known.items():
    deps = graph.setdefault(name, {})
    own = set(packages_of(name)) | {name}  # already being imported when `name` runs
    for line, imported in imported_names(name, path, known):
      # `import jaxgen.a.b.attr`-style names: the longest prefix that is a module.
      parts = imported.split(".")
      target = next((".".join(parts[:i]) for i in range(len(parts), 0, -1)
                     if ".".join(parts[:i]) in known), None)
      if target is None:
        continue  # not jaxgen's
      for dep in (*packages_of(target), target):
        if dep not in own:
          deps.setdefault(dep, f"{path.relative_to(ROOT)}:{line}")
  return graph


def find_cycles(graph) -> list[list[str]]:
  """One cycle through each strongly connected component of more than one module."""
  index, low, stack, on_stack, components = {}, {}, [], set(), []

  def connect(v):  # Tarjan's algorithm
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in graph[v]:
      if w not in index:
        connect(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = set()
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.add(w)
        if w == v:
          break
      if len(component) > 1:
        components.append(component)

  for v in sorted(graph):
    if v not in index:
      connect(v)
  cycles = []
  for component in components:
    start = min(component)
    paths, seen = {start: [start]}, {start}
    frontier = [start]
    while frontier:  # breadth first, back to start: a shortest cycle through it
      v = frontier.pop(0)
      for w in sorted(graph[v]):
        if w == start:
          cycles.append(paths[v] + [start])
          frontier = []
          break
        if w in component and w not in seen:
          seen.add(w)
          paths[w] = paths[v] + [w]
          frontier.append(w)
  return cycles


def test_no_import_cycles():
  graph = import_graph()
  cycles = find_cycles(graph)
  described = ["\n".join([f"  {cycle[0]}"] + [
      f"  -> {b}  ({graph[a][b]})" for a, b in zip(cycle, cycle[1:])]) for cycle in cycles]
  assert not cycles, "import cycles among jaxgen modules:\n" + "\n\n".join(described)


def test_imports_respect_the_layers():
  crossings = []
  for importer, deps in sorted(import_graph().items()):
    for dep, where in deps.items():
      for who, kind, targets, why in RULES:
        if matches(importer, who) and matches(dep, targets) == (kind == "not"):
          crossings.append(f"{where}: {importer} imports {dep}, crossing "
                           f"[{', '.join(who)} {kind} {', '.join(targets) or 'nothing'}]: {why}")
  assert not crossings, "layers crossed:\n" + "\n".join(crossings)


def test_the_walk_resolves_relative_lazy_and_package_imports(tmp_path):
  module = tmp_path / "x.py"
  module.write_text("from . import stats\nfrom ..models import gan, nothing\n"
                    "def f():\n  import jaxgen.train\n")
  assert sorted(imported_names("jaxgen.metrics.x", module, modules())) == [
      (1, "jaxgen.metrics.stats"), (2, "jaxgen.models.gan"), (4, "jaxgen.train")]
  graph = import_graph()
  assert "jaxgen.metrics.inception" in graph["jaxgen.metrics.sample_quality"]  # in a function
  assert "jaxgen.data.sources" in graph["jaxgen.data"]  # a package's __init__ is a module
  assert "jaxgen.data" not in graph["jaxgen.data.prepare"]  # its own package: already importing


@pytest.mark.parametrize("package, forbidden", [
    ("jaxgen.models", ("jaxgen.methods", "jaxgen.train", "jaxgen.metrics", "jaxgen.losses")),
    ("jaxgen.metrics", ("jaxgen.methods", "jaxgen.train")),
])
def test_importing_a_layer_loads_nothing_above_it(package, forbidden):
  """Every module of `package`, imported in a fresh interpreter, leaves `forbidden` unloaded."""
  script = (
      "import importlib, pkgutil, sys\n"
      f"package = importlib.import_module({package!r})\n"
      "for m in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
      "  importlib.import_module(m.name)\n"
      f"print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))\n")
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
  proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-4000:]
  assert proc.stdout.strip() == "[]", f"importing {package} loaded {proc.stdout.strip()}"
