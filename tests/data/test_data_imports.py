"""The data package's imports, read with ``ast``: no loops inside it, and nothing from the Hub's upload code."""

from __future__ import annotations

import ast
from pathlib import Path

import ganforge

SRC = Path(ganforge.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = ("ganforge",) + path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def data_imports() -> dict[str, set[str]]:
    """Each ganforge.data module -> the ganforge modules it imports anywhere (late imports too)."""
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if not name.startswith("ganforge.data"):
            continue
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # "pkg.module.name" -> the module it names
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def test_data_does_not_import_the_hub():
    assert [m for m, deps in data_imports().items() if "ganforge.hub" in deps] == []


def test_no_import_loop_inside_data():
    graph = data_imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import loop: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done or module not in graph:
            return
        for dep in sorted(graph[module]):
            visit(dep, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
