"""Latents from seeds, images from a generator, and grids of images.

Seed ``s`` always maps to the same latent on any device: each latent is drawn from
its own CPU generator seeded with ``s`` and only then moved to the device. A grid
for ``--seed s --n k`` shows the images of seeds s, s+1, ..., s+k-1.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from PIL import Image


def latents_for_seeds(seeds: Sequence[int], latent_dim: int) -> torch.Tensor:
    """(len(seeds), latent_dim) float32 standard-normal latents, one per seed, on CPU."""
    return torch.stack([torch.randn(latent_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) in [-1, 1] -> uint8 array (N, H, W, C)."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def generate(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
             batch_size: int = 64) -> np.ndarray:
    """Run G (in eval mode) on latents ``z`` in batches; uint8 images (N, H, W, C).

    A conditional generator given no ``labels`` draws classes 0, 1, ..., K-1, 0, ... in turn.
    """
    device = next(G.parameters(), torch.empty(0)).device  # an ONNX export has no parameters: CPU
    num_classes = getattr(getattr(G, "cfg", None), "num_classes", 0)
    if labels is None and num_classes:
        labels = torch.arange(len(z)) % num_classes
    was_training = G.training
    G.eval()
    out = []
    for i in range(0, len(z), batch_size):
        zb = z[i : i + batch_size].to(device)
        lb = labels[i : i + batch_size].to(device) if labels is not None else None
        out.append(to_uint8(G(zb, lb)))
    G.train(was_training)
    return np.concatenate(out)


def image_grid(images: np.ndarray, ncols: int | None = None, padding: int = 2, pad_value: int = 0) -> Image.Image:
    """uint8 (N, H, W, C) -> one PIL image, rows of ``ncols`` (default: a near-square grid)."""
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.full((padding + nrows * (h + padding), padding + ncols * (w + padding), c), pad_value, np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, ncols)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = img
    return to_pil(grid)


def to_pil(image: np.ndarray) -> Image.Image:
    """uint8 (H, W, C) with C = 1 or 3 -> PIL image (L or RGB)."""
    return Image.fromarray(image[..., 0], "L") if image.shape[-1] == 1 else Image.fromarray(image, "RGB")
