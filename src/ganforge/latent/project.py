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

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.latent.optimise import (
    ProgressFn,
    check_image,
    frozen,
    image_to_tensor,
    module_device,
    render,
    search,
)

if TYPE_CHECKING:
    from ganforge.latent.spaces import StyleSpace


@dataclass
class ProjectionResult:
    latent: torch.Tensor               # (D,) the best latent found, on CPU
    image: np.ndarray                  # uint8 (H, W, C): its image
    losses: list[float]                # total loss of the chosen restart after each step
    label: int | None = None           # the class used (conditional models)
    error: float = 0.0                 # mean squared pixel error of ``image``, pixels in [0, 1]
    restart_losses: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (steps, restarts)
    noise_maps: list[torch.Tensor] | None = None  # project_w: the optimised per-layer noise maps

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


def project_w(S: StyleSpace, target: np.ndarray, *, steps: int = 300, D: nn.Module | None = None,
              feature_weight: float = 0.1, lr: float = 0.1, noise_weight: float = 1e5, optimise_noise: bool = True,
              progress: ProgressFn | None = None, seed: int = 0, n_stats: int = 10_000) -> ProjectionResult:
    """Embed ``target`` in W or W+ the way StyleGAN2's projector does (Karras et al. 2020, sec. 5):
    start at the mean w, optimise the latent (and, with ``optimise_noise``, every layer's noise map) with
    Adam, the learning rate ramped up over the first 5 % of the steps and down over the last 25 %,
    noise on the latent of 5 % of W's spread decaying to zero by 3/4 of the steps, and the noise
    maps' autocorrelation at every scale penalised (``noise_weight``) and renormalised each step so
    they cannot carry the image. The distance is this module's: pixels plus D's features (the paper
    uses LPIPS, which ganforge does not ship). ``S`` is ``ganforge.latent.spaces.StyleSpace``.

    The result's latent is in S's space; its image uses the optimised noise maps (``noise_maps``),
    a re-render from the latent alone uses the generator's fixed maps and differs in fine detail.
    """
    target = check_image(S, target)
    device = module_device(S)
    y = image_to_tensor(target, device)
    use_features = D is not None and feature_weight > 0
    gen = torch.Generator().manual_seed(seed)
    with frozen(S.G, D):
        z = torch.randn(n_stats, S.G.cfg.latent_dim, generator=gen)
        w = S.from_z(z)[:, : S.w_dim]
        w_mean = w.mean(0)  # the mean w of these samples (as the paper's projector; w_avg is a training average)
        w_std = float(((w - w_mean).square().sum(1).mean()).sqrt())  # spread of W, as the paper measures it
        start = w_mean.reshape(1, -1) if S.space == "w" else w_mean.repeat(1, S.num_ws)
        latent = start.to(device).clone().requires_grad_(True)
        layers = S.G.synthesis_net.noise_layers()
        maps = [torch.randn(layer.noise_const.shape, generator=gen).to(device).requires_grad_(optimise_noise)
                for layer in layers]
        S.noise = maps
        # D.features: every family's discriminator has it (nn.Module's typed __getattr__ hides it)
        fy = D.features(y).flatten(1) if use_features else None  # type: ignore[union-attr, operator]
        fy_scale = fy.pow(2).mean().clamp_min(1e-8) if use_features else None  # type: ignore[union-attr]
        opt = torch.optim.Adam([latent] + (maps if optimise_noise else []), lr=lr, betas=(0.9, 0.999))
        losses: list[float] = []
        try:
            for step in range(steps):
                t = step / steps
                ramp = min(1.0, (1 - t) / 0.25)
                ramp = (0.5 - 0.5 * math.cos(ramp * math.pi)) * min(1.0, t / 0.05 + 1 / steps)
                for group in opt.param_groups:
                    group["lr"] = lr * ramp
                scale = w_std * 0.05 * max(0.0, 1 - t / 0.75) ** 2
                x = S(latent + torch.randn(latent.shape, generator=gen).to(device) * scale).clamp(-1, 1)
                loss = (x - y).pow(2).mean()
                if use_features:
                    loss = loss + feature_weight * (D.features(x).flatten(1) - fy).pow(2).mean() / fy_scale  # type: ignore[union-attr, operator]
                total = loss + noise_weight * noise_regularisation(maps) if optimise_noise else loss
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                with torch.no_grad():
                    for m in maps:  # zero mean, unit variance: the maps stay noise
                        m -= m.mean()
                        m *= m.square().mean().rsqrt()
                losses.append(float(loss.detach()))
                if progress is not None and progress(step + 1, steps, losses[-1]) is False:
                    break
            image = render(S, latent.detach())[0]
        finally:
            S.noise = None
    return ProjectionResult(latent=latent.detach().cpu()[0], image=image, losses=losses,
                            error=pixel_error(image, target), restart_losses=np.asarray(losses)[:, None],
                            noise_maps=[m.detach().cpu() for m in maps])


def noise_regularisation(maps: list[torch.Tensor]) -> torch.Tensor:
    """Sum over maps and scales (halving down to 8×8) of the squared autocorrelation at a one-pixel
    shift in x and y: zero for white noise, large for a map that holds image structure."""
    total = torch.zeros((), device=maps[0].device)
    for m in maps:
        while True:
            total = total + (m * m.roll(1, dims=3)).mean().square() + (m * m.roll(1, dims=2)).mean().square()
            if m.shape[2] <= 8:
                break
            m = F.avg_pool2d(m, 2)
    return total
