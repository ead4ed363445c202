"""Style mixing (Karras et al. 2019, fig. 3; StyleGAN2 keeps it): the classic grid.

Row seed r and column seed c give the cell whose ws are r's, except the chosen layers, taken from
c: with the coarse layers, each cell has the column's pose and shape and the row's colours and
details. The first row shows the column seeds' images, the first column the row seeds'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from ganforge.config import model_config
from ganforge.errors import GanforgeError
from ganforge.sampling import image_grid, latents_for_seeds, to_uint8

if TYPE_CHECKING:
    from ganforge.models.stylegan2 import Generator as StyleGenerator


def _style_based(G: nn.Module) -> StyleGenerator:
    """G itself, or a one-line error if it has no mapping network."""
    from ganforge.latent.spaces import is_style_based

    if not is_style_based(G):
        raise GanforgeError(f"{model_config(G).family} is not style-based: "
                            "style mixing needs a mapping network (stylegan2)")
    return G


def layer_range(G: nn.Module, spec: str) -> range:
    """``coarse``, ``middle``, ``fine`` (the family's groups) or ``A-B`` (ws A to B inclusive) -> ws indices."""
    G = _style_based(G)
    from ganforge.models.stylegan2 import layer_groups

    groups = layer_groups(G.cfg.resolution)
    if spec in groups:
        chosen = groups[spec]
    else:
        a, sep, b = spec.partition("-")
        if not (sep and a.isdigit() and b.isdigit()):
            raise GanforgeError(f"--layers is coarse, middle, fine or A-B (e.g. 0-3), not {spec!r}")
        chosen = range(int(a), int(b) + 1)
    if not chosen or chosen.start < 0 or chosen.stop > G.num_ws:
        raise GanforgeError(f"--layers {spec} is no range of this model's ws 0-{G.num_ws - 1}")
    return chosen


@torch.no_grad()
def mix_styles(G: nn.Module, rows: Sequence[int], cols: Sequence[int], layers: range, psi: float = 1.0
               ) -> np.ndarray:
    """uint8 (len(rows)+1) x (len(cols)+1) images (N, H, W, C), row-major: a blank corner, the column
    seeds, then per row its own image followed by its mixes with each column seed."""
    G = _style_based(G)
    device = next(G.parameters()).device
    G.eval()
    ws_r = G.mapping(latents_for_seeds(rows, G.cfg.latent_dim).to(device), psi)  # (R, num_ws, w_dim)
    ws_c = G.mapping(latents_for_seeds(cols, G.cfg.latent_dim).to(device), psi)
    def img(ws: torch.Tensor) -> np.ndarray:
        return to_uint8(G.synthesis(ws).clamp(-1, 1))

    own_r, own_c = img(ws_r), img(ws_c)
    cells = [np.zeros_like(own_c[0]), *own_c]
    for i in range(len(rows)):
        mixed = ws_r[i : i + 1].repeat(len(cols), 1, 1)
        mixed[:, layers.start : layers.stop] = ws_c[:, layers.start : layers.stop]
        cells += [own_r[i], *img(mixed)]
    return np.stack(cells)


def mix_grid(G: nn.Module, rows: Sequence[int], cols: Sequence[int], layers: range, psi: float = 1.0) -> Image.Image:
    """The grid as one image (see ``mix_styles``)."""
    return image_grid(mix_styles(G, rows, cols, layers, psi), ncols=len(cols) + 1)
