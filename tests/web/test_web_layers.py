"""The web package's shape, read from its source with ``ast``: blueprints depend only on the shared
layer (never on one another), and no web module knows the layout of a run directory."""

from __future__ import annotations

import ast
from pathlib import Path

import ganforge.web

WEB = Path(ganforge.web.__file__).parent
MODULES = {p.stem: ast.parse(p.read_text()) for p in WEB.glob("*.py") if p.stem != "__init__"}


def defines_blueprint(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
               and getattr(node.value.func, "id", None) == "Blueprint" for node in tree.body)


def web_imports(tree: ast.Module) -> set[str]:
    """The ``ganforge.web`` modules ``tree`` imports, anywhere in the file."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganforge.web"):
            parts = node.module.split(".")
            out.update(parts[2:3] if len(parts) > 2 else (a.name for a in node.names))
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[2] for a in node.names if a.name.startswith("ganforge.web."))
    return out


BLUEPRINTS = {name for name, tree in MODULES.items() if defines_blueprint(tree)}


def test_the_blueprints_are_the_features():
    assert BLUEPRINTS == {"runs", "explore", "morph", "embed", "inpaint", "training", "game", "jobs", "mix", "review",
                           "translate"}


def test_no_blueprint_imports_another_and_the_shared_layer_imports_none():
    for name, tree in MODULES.items():
        assert not web_imports(tree) & (BLUEPRINTS - {name}), f"ganforge.web.{name} imports a blueprint"


def test_web_modules_import_at_the_top():
    for name, tree in MODULES.items():
        late = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                and node not in tree.body]
        assert not late, f"ganforge.web.{name} imports inside functions at lines {late}"


def test_web_modules_ask_rundir_for_paths_inside_a_run():
    layout = {"config.json", "log.jsonl", "metrics.jsonl", "evaluation.json", "directions.npz", "checkpoints",
              "samples", "latest.pt", "latest.png", "best.pt"}
    for name, tree in [*MODULES.items(), ("__init__", ast.parse((WEB / "__init__.py").read_text()))]:
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr)}
        names = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                 and id(n) not in docstrings}
        assert not names & layout, f"ganforge.web.{name} builds run paths by hand: {names & layout}"
