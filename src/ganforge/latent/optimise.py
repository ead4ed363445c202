"""The latent optimiser shared by projection and inpainting.

Several restarts run side by side as one batch (the generator is in eval mode, so
samples do not interact): each restart is one row of ``z``. Adam with a short
warm-up and a cosine ramp-down, and decaying noise on the latents early on to
escape poor basins (the schedule of stylegan2-ada-pytorch's projector, in z space).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from ganforge.config import model_config
from ganforge.errors import GanforgeError
from ganforge.sampling import from_uint8, latents_for_seeds, to_uint8

# progress(step, total, loss): called after every step with the best restart's loss; returning
# False stops the optimisation there (a web page's cancel button), keeping what was reached.
ProgressFn = Callable[[int, int, float], bool | None]
# loss(images (R, C, H, W) in [-1, 1], z (R, D), labels (R,) or None) -> per-restart losses (R,)
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


@contextlib.contextmanager
def frozen(*modules: nn.Module | None):
    """Eval mode and no parameter gradients inside the block; previous state restored after."""
    saved = []
    for m in modules:
        if m is None:
            continue
        saved.append((m, m.training, [p.requires_grad for p in m.parameters()]))
        m.eval().requires_grad_(False)
    try:
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, f in zip(m.parameters(), flags):
                p.requires_grad_(f)


def module_device(m: nn.Module) -> torch.device:
    p = next(m.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def image_to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, C) -> float (1, C, H, W) in [-1, 1]."""
    return from_uint8(np.asarray(image)[None], device)


def check_image(G: nn.Module, image: np.ndarray, what: str = "target") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    r, c = model_config(G).resolution, model_config(G).channels
    if image.dtype != np.uint8 or image.shape != (r, r, c):
        raise GanforgeError(f"the {what} must be uint8 ({r}, {r}, {c}) like the model's images, "
                            f"not {image.dtype} {image.shape}; prepare it with ganforge.latent.load_photo")
    return image


@torch.no_grad()
def initial_latents(G: nn.Module, loss_fn: LossFn, restarts: int, pool: int, seed: int,
                    labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The ``restarts`` best of ``restarts * pool`` random latents under ``loss_fn``.

    ``labels``: one class id (1,) for all, or None; a conditional model without a given
    class draws a random class per candidate and each restart keeps its candidate's class.
    """
    D_lat, k = model_config(G).latent_dim, int(getattr(G.cfg, "num_classes", 0) or 0)
    device = module_device(G)
    n = restarts * max(pool, 1)
    seeds = [seed * 1_000_003 + i for i in range(n)]
    from_z = getattr(G, "from_z", None)  # a StyleSpace's: in W, latents are mapped seeds, where images are
    z = latents_for_seeds(seeds, model_config(G.G).latent_dim if from_z is not None else D_lat)
    z = (from_z(z) if from_z is not None else z).to(device)
    if k and labels is None:
        lab = torch.randint(k, (n,), generator=torch.Generator().manual_seed(seed)).to(device)
    elif labels is not None:
        lab = labels.reshape(-1)[:1].to(device).expand(n)
    else:
        lab = None
    scores = []
    for i in range(0, n, 64):
        lb = None if lab is None else lab[i:i + 64]
        scores.append(loss_fn(G(z[i:i + 64], lb), z[i:i + 64], lb))
    best = torch.cat(scores).argsort()[:restarts]
    return z[best].clone(), None if lab is None else lab[best].clone()


def optimise_latents(G: nn.Module, z0: torch.Tensor, labels: torch.Tensor | None, loss_fn: LossFn, *,
                     steps: int, lr: float = 0.05, noise: float = 0.05, seed: int = 0,
                     progress: ProgressFn | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Minimise ``loss_fn`` over latents ``z0`` (R, D) for ``steps`` Adam steps.

    Returns (latents (R, D) at the end, loss curves (steps done, R) as float64). The noise
    added to the latents decays to zero by 3/4 of the steps, so the last steps are exact.
    """
    if steps < 1:
        raise GanforgeError("the number of optimisation steps must be at least 1")
    z = z0.detach().clone().requires_grad_(True)
    gen = torch.Generator(device=z.device).manual_seed(seed)  # the latent noise; global RNG untouched
    opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))
    curves = np.zeros((steps, len(z0)))
    for step in range(steps):
        t = step / steps
        rampdown = 0.5 - 0.5 * math.cos(min(1.0, (1 - t) / 0.25) * math.pi)
        rampup = min(1.0, (step + 1) / max(1.0, 0.05 * steps))
        for group in opt.param_groups:
            group["lr"] = lr * rampdown * rampup
        scale = noise * max(0.0, 1 - t / 0.75) ** 2
        zn = z + torch.randn(z.shape, generator=gen, device=z.device) * scale if scale > 0 else z
        losses = loss_fn(G(zn, labels), zn, labels)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
        curves[step] = losses.detach().cpu().double().numpy()
        if progress is not None and progress(step + 1, steps, float(curves[step].min())) is False:
            curves = curves[: step + 1]
            break
    return z.detach(), curves


@dataclass
class Found:
    """The winning restart of ``search``."""

    latent: torch.Tensor               # (D,) on CPU
    labels: torch.Tensor | None        # (1,) class id on CPU, or None
    image: np.ndarray                  # uint8 (H, W, C): G(latent)
    losses: list[float]                # its loss after each step
    restart_losses: np.ndarray         # (steps, restarts): every restart's curve

    @property
    def label(self) -> int | None:
        return None if self.labels is None else int(self.labels)


def search(G: nn.Module, loss_fn: LossFn, *, steps: int, restarts: int, pool: int, lr: float, seed: int,
           labels: torch.Tensor | int | None, progress: ProgressFn | None) -> Found:
    """Start ``restarts`` latents from the best of ``pool`` each, optimise them side by side,
    and keep the one with the lowest final loss. G (and anything loss_fn uses) must be frozen."""
    if restarts < 1 or pool < 1:
        raise GanforgeError("restarts and pool must be at least 1")
    if isinstance(labels, int):
        labels = torch.tensor([labels])
    z0, lab = initial_latents(G, loss_fn, restarts, pool, seed, labels)
    z, curves = optimise_latents(G, z0, lab, loss_fn, steps=steps, lr=lr, seed=seed, progress=progress)
    with torch.no_grad():
        best = int(loss_fn(G(z, lab), z, lab).argmin())
    latent = z[best].cpu()
    label = None if lab is None else lab[best:best + 1].cpu()
    return Found(latent, label, render(G, latent[None], label)[0], [float(v) for v in curves[:, best]], curves)


@torch.no_grad()
def render(G: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray:
    """uint8 images (N, H, W, C) of latents (N, D), in eval mode."""
    with frozen(G):
        return to_uint8(G(z.to(module_device(G)), None if labels is None else labels.to(module_device(G))))
