"""The latent spaces of a style-based generator: Z, W and W+ (Karras et al. 2019, 2020; Abdal et al. 2019).

``z`` is the generator's input (N(0, I)); ``w = mapping(z)`` is the learned style space every layer
reads; ``w+`` gives each layer its own w (N, num_ws, w_dim), which reaches images a single w cannot
(projection) and lets an edit touch only some layers. ``in_space(G, space)`` returns a module that
looks like any ganforge generator — ``G(latent, labels)``, ``G.cfg.latent_dim`` — but whose
latent is z, w (N, w_dim) or w+ flattened (N, num_ws * w_dim), so every latent tool (interpolation,
midpoint, editing, inpainting) works in W unchanged. A seed's latent in W is ``from_z`` of the
seed's z; truncation there pulls toward ``w_avg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeGuard

import numpy as np
import torch
import torch.nn as nn

from ganforge import models
from ganforge.config import model_config
from ganforge.errors import GanforgeError
from ganforge.latent.optimise import module_device, render

if TYPE_CHECKING:
    from ganforge.models.stylegan2 import Generator as StyleGenerator

SPACES = ("z", "w", "w+")


def is_style_based(G: nn.Module) -> TypeGuard[StyleGenerator]:
    """G's family maps z to per-layer styles (``STYLE_BASED`` in its registry entry) and G is the network
    itself (an ONNX or TorchScript export hides its mapping network). For the type checker: G is then
    the generator of stylegan2, ganforge's style-based family."""
    return models.is_style_based(model_config(G).family) and hasattr(G, "mapping")


def default_space(G: nn.Module) -> str:
    """w for a style-based generator (where editing and projection work best), z for the others."""
    return "w" if is_style_based(G) else "z"


class StyleSpace(nn.Module):
    """A style-based generator whose latent is w (N, w_dim) or w+ (N, num_ws * w_dim)."""

    truncates_in_w = False  # its latents are already in W: truncate them with ``from_z(z, psi)``

    def __init__(self, G: StyleGenerator, space: str):
        super().__init__()
        if space not in ("w", "w+"):
            raise GanforgeError(f"a style space is w or w+, not {space!r}")
        self.G: StyleGenerator = G
        self.space = space
        self.num_ws, self.w_dim = int(G.num_ws), int(G.w_avg.numel())
        self.cfg = replace(G.cfg, latent_dim=self.w_dim * (self.num_ws if space == "w+" else 1))
        # per-layer noise maps (None: G's fixed ones); the projector sets them
        self.noise: list[torch.Tensor] | None = None

    def to_ws(self, latent: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> ws (N, num_ws, w_dim)."""
        if self.space == "w":
            return latent.reshape(-1, 1, self.w_dim).expand(-1, self.num_ws, -1)
        return latent.reshape(-1, self.num_ws, self.w_dim)

    def from_ws(self, ws: torch.Tensor) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> latents of this space (w takes the first layer's)."""
        return ws[:, 0] if self.space == "w" else ws.flatten(1)

    @torch.no_grad()
    def from_z(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """The latents of z (N, z_dim) in this space, truncated toward w_avg by ``psi``."""
        was = self.G.training
        self.G.eval()  # no style mixing, no w_avg update
        ws = self.G.mapping(z.to(module_device(self.G)), psi)
        self.G.train(was)
        return self.from_ws(ws).cpu()

    def mean_latent(self, n: int = 0) -> torch.Tensor:
        """w_avg in this space (what truncation pulls toward)."""
        return self.from_ws(self.G.w_avg.reshape(1, 1, -1).expand(1, self.num_ws, -1))[0]

    def forward(self, latent: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        img = self.G.synthesis(self.to_ws(latent), self.noise)
        return img if self.training else img.clamp(-1, 1)


def in_space(G: nn.Module, space: str | None) -> nn.Module:
    """G seen from ``space`` (None: its default); z is G itself."""
    space = space or default_space(G)
    if space not in SPACES:
        raise GanforgeError(f"--space is one of {', '.join(SPACES)}, not {space!r}")
    if space == "z":
        return G
    if not is_style_based(G):
        raise GanforgeError(f"--space {space} needs a style-based generator (stylegan2); "
                            f"{model_config(G).family} has only z")
    return StyleSpace(G, space).train(G.training)  # eval (clamped images) like the G it views


def space_of(G: nn.Module) -> str:
    return getattr(G, "space", "z")


def convert(G: nn.Module, latent: torch.Tensor, source: str, target: str) -> torch.Tensor:
    """A latent (D,) of ``source`` as a latent of ``target``, when ``target`` can say the same thing: z maps
    into w and w+, and a w becomes the w+ that repeats it for every layer. ``G``: the generator itself, or any
    view of it. W back to z has no inverse; w+ to w would drop what makes it w+: both are refused."""
    if source == target:
        return latent
    G = getattr(G, "G", G)  # the generator under a StyleSpace view
    if source not in ("z", "w") or target not in ("w", "w+") or not is_style_based(G):
        raise GanforgeError(f"a latent in {source} cannot be used in {target}; work in {source}")
    S = StyleSpace(G, target)
    if source == "z":
        return S.from_z(latent.reshape(1, -1))[0]
    return S.from_ws(latent.reshape(1, 1, -1).expand(1, S.num_ws, -1).cpu())[0]


@torch.no_grad()
def w_directions(S: StyleSpace, k: int = 10, n_samples: int = 5000, seed: int = 0, batch_size: int = 1024):
    """GANSpace (Härkönen et al. 2020) in W: the principal components of w = mapping(z) over
    ``n_samples`` random z, mapped ``batch_size`` at a time. Returns ``Directions`` (k, w_dim) with
    ``scales`` the standard deviation of w along each, so an edit's amount is in standard deviations."""
    from ganforge.latent.directions import Directions, _pca

    if not 1 <= k <= S.w_dim:
        raise GanforgeError(f"k must be in 1..{S.w_dim} (the size of w), not {k}")
    if n_samples < max(2 * k, 16):
        raise GanforgeError(f"n_samples must be at least {max(2 * k, 16)} for k={k}")
    z = torch.randn(n_samples, S.G.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    w = torch.cat([S.from_z(z[i:i + batch_size])[:, : S.w_dim] for i in range(0, n_samples, batch_size)])
    w = w.double()
    comps, frac, _ = _pca(w, k)
    sd = (w - w.mean(0)) @ comps.T  # (N, k) coordinates along each component
    return Directions(comps.float(), frac.float(), "pca-w", scales=sd.std(0).float())


def edit_layers(S: StyleSpace, latent: torch.Tensor, direction: torch.Tensor, amounts: Sequence[float],
                layers: range | None = None, scale: float = 1.0) -> np.ndarray:
    """Images of the latent moved by ``a * scale`` along a W direction (w_dim,), in the ws of ``layers``
    only (all: None), for each amount ``a``: uint8 (len(amounts), H, W, C). A layer range makes the
    edit in W+ (GANSpace's layer-wise edits)."""
    d = direction.reshape(-1).float()
    d = d / d.norm().clamp_min(1e-12) * scale
    if d.numel() != S.w_dim:
        raise GanforgeError(f"a direction of size {d.numel()} is not a direction in W (size {S.w_dim})")
    ws = S.to_ws(latent.reshape(1, -1).float()).clone()  # (1, num_ws, w_dim)
    layers = layers or range(S.num_ws)
    a = torch.as_tensor(list(amounts), dtype=torch.float32).reshape(-1, 1, 1)
    moved = ws.repeat(len(a), 1, 1)
    moved[:, layers.start:layers.stop] += a * d
    plus = StyleSpace(S.G, "w+")
    plus.noise = S.noise
    return render(plus, plus.from_ws(moved))
