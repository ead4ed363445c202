"""Run lookup confined to the runs directory, and generators loaded once per app."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from flask import Flask, abort, current_app

from ganforge.runs import find_runs

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def init_app(app: Flask) -> None:
    app.extensions["ganforge.generators"] = {}
    app.extensions["ganforge.lock"] = threading.Lock()


def run_names() -> list[str]:
    only = current_app.config["ONLY_RUN"]
    root = current_app.config["RUNS_ROOT"]
    if only:
        return [only]
    return [p.name for p in find_runs(root) if p != root]


def run_path(name: str) -> Path:
    """The run directory called ``name``, or 404: names never leave the runs directory."""
    if not _NAME.match(name) or name not in run_names():
        abort(404, description=f"no run named {name!r}")
    root: Path = current_app.config["RUNS_ROOT"]
    path = (root / name).resolve()
    if path.parent != root.resolve():
        abort(404, description=f"no run named {name!r}")
    return path


def get_generator(name: str):
    """(G, model config) of run ``name``, loaded on first use and cached; reloaded when its checkpoint changes."""
    from ganforge.checkpoint import load_generator

    path = run_path(name)
    ckpt = path / "checkpoints" / "latest.pt"
    if not ckpt.is_file():
        abort(404, description=f"run {name!r} has no checkpoint yet")
    mtime = ckpt.stat().st_mtime_ns
    cache = current_app.extensions["ganforge.generators"]
    with current_app.extensions["ganforge.lock"]:
        hit = cache.get(name)
        if hit is None or hit[0] != mtime:
            G, cfg, _ = load_generator(ckpt, device="cpu")
            hit = cache[name] = (mtime, G, cfg)
    return hit[1], hit[2]
