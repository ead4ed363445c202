"""Embedding a real image: find the latent whose image best matches it (GAN inversion).

Loss per restart, with x = G(z) and y the target, both in [-1, 1]::

    mean((x - y)^2)                                              pixel distance
  + feature_weight * mean((f(x) - f(y))^2) / mean(f(y)^2)        D.features distance (scale-free)
  + reg_weight * (|z| / sqrt(D) - 1)^2                           stay on the prior's typical shell

The feature term uses the discriminator's penultimate activations (every ganforge
discriminator has ``features``), which reward matching structure, not just colour.
The latent term keeps z where the generator was trained: a Gaussian latent of
dimension D has norm close to sqrt(D), not close to zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from ganforge.latent.optimise import (
    ProgressFn,
    check_image,
    frozen,
    image_to_tensor,
    module_device,
    search,
)


@dataclass
class ProjectionResult:
    latent: torch.Tensor               # (D,) the best latent found, on CPU
    image: np.ndarray                  # uint8 (H, W, C): its image
    losses: list[float]                # total loss of the chosen restart after each step
    label: int | None = None           # the class used (conditional models)
    error: float = 0.0                 # mean squared pixel error of ``image``, pixels in [0, 1]
    restart_losses: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (steps, restarts)

    @property
    def psnr(self) -> float:
        return float(10 * np.log10(1.0 / max(self.error, 1e-12)))


def pixel_error(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error of two uint8 images with pixels scaled to [0, 1] (over ``mask`` if given)."""
    d = (a.astype(np.float64) - b.astype(np.float64)) / 255.0
    if mask is not None:
        m = np.broadcast_to(np.asarray(mask, bool).reshape(mask.shape[:2] + (1,)), d.shape)
        return float((d[m] ** 2).mean()) if m.any() else 0.0
    return float((d ** 2).mean())


def shell_penalty(z: torch.Tensor) -> torch.Tensor:
    """(|z| / sqrt(D) - 1)^2 per row of z (N, D): zero on the Gaussian prior's typical shell."""
    return (z.norm(dim=1) / z.shape[1] ** 0.5 - 1) ** 2


def project(G: nn.Module, target: np.ndarray, *, steps: int = 300, restarts: int = 4, D: nn.Module | None = None,
            feature_weight: float = 0.1, reg_weight: float = 0.01, labels: torch.Tensor | int | None = None,
            lr: float = 0.05, pool: int = 16, progress: ProgressFn | None = None, seed: int = 0) -> ProjectionResult:
    """Find the latent of ``G`` whose image best matches ``target`` uint8 (H, W, C).

    ``restarts`` optimisations run side by side, each from the best of ``pool`` random
    latents; the restart with the lowest final loss wins. ``D`` (optional) adds the
    feature distance. ``labels``: the class for a conditional model (None: each restart
    keeps the class of its best starting candidate). ``progress(step, steps, loss)`` is
    called after every step (returning False stops early). Deterministic for a given ``seed`` on a given device.
    """
    target = check_image(G, target)
    device = module_device(G)
    y = image_to_tensor(target, device)                                 # (1, C, H, W)
    use_features = D is not None and feature_weight > 0
    with frozen(G, D):
        # D.features: every family's discriminator has it (nn.Module's typed __getattr__ hides it)
        fy = D.features(y).flatten(1) if use_features else None  # type: ignore[union-attr, operator]
        fy_scale = fy.pow(2).mean().clamp_min(1e-8) if use_features else None  # type: ignore[union-attr]

        def loss_fn(x: torch.Tensor, z: torch.Tensor, lab: torch.Tensor | None) -> torch.Tensor:
            loss = (x - y).pow(2).flatten(1).mean(1)
            if use_features:
                loss = loss + feature_weight * (D.features(x).flatten(1) - fy).pow(2).mean(1) / fy_scale  # type: ignore[union-attr, operator]
            if reg_weight > 0:
                loss = loss + reg_weight * shell_penalty(z)
            return loss

        found = search(G, loss_fn, steps=steps, restarts=restarts, pool=pool, lr=lr, seed=seed, labels=labels,
                       progress=progress)
    return ProjectionResult(latent=found.latent, image=found.image, losses=found.losses, label=found.label,
                            error=pixel_error(found.image, target), restart_losses=found.restart_losses)
