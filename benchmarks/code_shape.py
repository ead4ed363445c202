"""The shape of ganforge's code, as JSON: import loops, the largest modules, the longest functions.

    python benchmarks/code_shape.py [--src src/ganforge] [--top 10]

Imports are read with ``ast`` (late, function-level ones too); a loop is a strongly connected group
of modules that import one another. Used for issue 14's before/after reading of the core.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path


def module_name(src: Path, path: Path) -> str:
    parts = ("ganforge",) + path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read(src: Path) -> tuple[dict[str, set[str]], dict[str, int], list[tuple[int, str]], int]:
    """(import graph, lines per module, (length, name) per function, late imports)."""
    files = {module_name(src, p): p for p in sorted(src.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    functions: list[tuple[int, str]] = []
    late = 0
    for name, path in files.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        sizes[name] = len(text.splitlines())
        graph[name] = set()
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            found = False
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
                    found = True
            if found and id(node) not in top and not any(id(node) in map(id, ast.walk(b)) for b in tree.body
                                                          if isinstance(b, (ast.If, ast.Try))):
                late += 1
    return graph, sizes, functions, late


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src" / "ganforge"))
    p.add_argument("--top", type=int, default=10)
    args = p.parse_args()
    graph, sizes, functions, late = read(Path(args.src))
    print(json.dumps({
        "modules": len(graph),
        "lines": sum(sizes.values()),
        "import_loops": loops(graph),
        "late_imports": late,
        "largest_modules": [{"module": m, "lines": n}
                            for m, n in sorted(sizes.items(), key=lambda kv: -kv[1])[:args.top]],
        "longest_functions": [{"function": f, "lines": n} for n, f in sorted(functions, reverse=True)[:args.top]],
    }, indent=1))


if __name__ == "__main__":
    main()
