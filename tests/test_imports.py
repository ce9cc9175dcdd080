"""The import graph of the package: no cycles (counting imports inside functions too), and
the reusable hardware library stands alone."""
import ast
import os

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# source folder -> the package name it is installed as (pyproject.toml's package-dir)
PACKAGES = {"spikegen": "spikegen", "rtl_lib": "rtl_lib", "boards": "spikegen.boards",
            "sim": "spikegen.sim"}


def _modules():
    modules = {}
    for folder, package in PACKAGES.items():
        for dirpath, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                if not name.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(ROOT, folder))
                parts = rel[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                modules[".".join([package] + parts)] = os.path.join(dirpath, name)
    return modules


MODULES = _modules()


def _resolve(name):
    """The module of ours that ``name`` (a module or a name inside one) refers to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module, path):
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _without_packages(graph):
    """The graph without edges into a package's ``__init__`` from inside that package (an
    ``__init__`` that re-exports its modules imports them; they do not import it back)."""
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_is_read():
    assert "spikegen.plan" in GRAPH["spikegen.compiler"]
    assert "rtl_lib.fc_plan" in GRAPH["rtl_lib.fc_layer"]
    assert "spikegen.boards" in MODULES and "spikegen.sim.runner" in MODULES


def test_no_import_cycles():
    cycle = _cycle(_without_packages(GRAPH))
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("rtl_lib")))
def test_rtl_lib_stands_alone(module):
    """Engineers import single components into their own designs: the hardware library
    needs nothing of the compiler, the boards or the testbenches."""
    outside = {t for t in GRAPH[module] if not t.startswith("rtl_lib")}
    assert not outside, f"{module} imports {sorted(outside)}"
