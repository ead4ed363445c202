"""ganforge's import graph, read from the source with ``ast``: no loops between its modules, and
dependencies that run one way (issue 14, point 2).

Every import counts, late (function-level) ones too: a late import that only hides a loop is a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ganforge

SRC = Path(ganforge.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = ("ganforge",) + path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each ganforge module -> the ganforge modules it imports anywhere in its file."""
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from .x import y
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # "pkg.module.name" -> the module it names
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


GRAPH = import_graph()


def find_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop as a path [a, b, ..., a], or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for dep in sorted(graph.get(module, ())):
            loop = visit(dep, path + [module])
            if loop:
                return loop
        done.add(module)
        return None

    for module in sorted(graph):
        loop = visit(module, [])
        if loop:
            return loop
    return None


def reaches(module: str, target: str) -> bool:
    """Whether ``module`` imports ``target`` directly or through other ganforge modules."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        for dep in GRAPH.get(m, ()):
            if dep == target or dep.startswith(target + "."):
                return True
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return False


def test_the_reader_sees_a_loop_when_there_is_one():
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert "ganforge.models" in GRAPH["ganforge.train"]  # it reads real imports


def test_no_import_loop_between_ganforge_modules():
    loop = find_loop(GRAPH)
    assert loop is None, "import loop: " + " -> ".join(loop)


@pytest.mark.parametrize("module, must_not_reach", [
    ("ganforge.config", "ganforge.models"),       # config and errors at the bottom
    ("ganforge.config", "ganforge.losses"),
    ("ganforge.errors", "ganforge.config"),
    ("ganforge.models", "ganforge.checkpoint"),   # a network never knows how it is saved or trained
    ("ganforge.models", "ganforge.export"),
    ("ganforge.models", "ganforge.train"),
    ("ganforge.models", "ganforge.compose"),
    ("ganforge.checkpoint", "ganforge.export"),   # artifacts.py, above both, decides what a path is
    ("ganforge.export", "ganforge.checkpoint"),
    ("ganforge.data", "ganforge.hub"),            # the shared HTTP helper sits below both
    ("ganforge.data", "ganforge.models"),         # a data source never knows about models
    ("ganforge.losses", "ganforge.models"),       # a loss drives the networks it is given
])
def test_dependencies_run_one_way(module, must_not_reach):
    sources = [m for m in GRAPH if m == module or m.startswith(module + ".")]
    offenders = [m for m in sources if reaches(m, must_not_reach)]
    assert offenders == [], f"{', '.join(offenders)} import(s) {must_not_reach}"
