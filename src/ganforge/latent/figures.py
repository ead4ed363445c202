"""Small pictures for latent tools: labelled side-by-side strips and loss curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ganforge.sampling import image_grid
from ganforge.utils import atomic_path


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """uint8 (H, W, C) -> PNG, atomically; ``scale`` > 1 enlarges with nearest-neighbour for viewing."""
    from ganforge.sampling import to_pil

    img = to_pil(image)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), resample=0)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)


def strip(images: Sequence[np.ndarray] | np.ndarray, padding: int = 2) -> np.ndarray:
    """Images (N, H, W, C) -> one row uint8 (H', W', C)."""
    images = np.stack(list(images))
    grid = np.asarray(image_grid(images, ncols=len(images), padding=padding))
    return grid if grid.ndim == 3 else grid[..., None]


def plot_curve(curves: Mapping[str, Sequence[float] | np.ndarray], out: str | Path, *, title: str = "",
               ylabel: str = "loss", log: bool = True) -> Path:
    """Line plot of named curves over optimisation steps -> PNG (matplotlib's file-only backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in curves.items():
        v = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(v) + 1), v, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return Path(out)
