"""Where ganforge keeps downloaded and derived files."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$GANFORGE_CACHE`` (default ``~/.cache/ganforge``) joined with ``parts``, created."""
    root = Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
