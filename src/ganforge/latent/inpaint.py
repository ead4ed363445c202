"""Semantic inpainting by latent optimisation (Yeh et al. 2017, "Semantic Image Inpainting
with Deep Generative Models").

1. Find z minimising, per restart, with x = G(z), y the image, W the context weights::

       sum(W * |x - y|) / sum(W)          contextual loss: known pixels, weighted by closeness to the hole
     + prior_weight * softplus(-D(x))      perceptual prior: -log D(x), x should look real to D
     + reg_weight * (|z| / sqrt(D) - 1)^2  keep z on the prior's typical shell

   W_i = known_i * (base_weight + fraction of hole pixels in the (2r+1)^2 window around i):
   pixels next to the hole matter most (the paper's weighting) and a small base
   weight keeps the rest of the image consistent.
2. Blend G(z) into the hole: Poisson blending (the paper's choice: the hole takes
   G(z)'s gradients and the known pixels at its border), or a plain paste. Known pixels
   are returned exactly as given either way.

Masks are (H, W) booleans, True where pixels are missing (white in a mask image).

``inpaint_once`` is the other way: one forward pass of a generator trained to fill holes (an
inpainter run, ``ganforge.models.inpainter``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.latent.optimise import (
    ProgressFn,
    check_image,
    frozen,
    image_to_tensor,
    module_device,
    search,
)
from ganforge.latent.project import shell_penalty

BLENDS = ("poisson", "paste")


@dataclass
class InpaintResult:
    image: np.ndarray                  # uint8 (H, W, C): the known pixels with the hole filled
    latent: torch.Tensor               # (D,) the latent found, on CPU
    generated: np.ndarray              # uint8 (H, W, C): G(latent) before blending
    losses: list[float]                # the chosen restart's loss after each step
    label: int | None = None
    restart_losses: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def check_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.shape != shape:
        raise GanforgeError(f"the mask is {mask.shape[1]}x{mask.shape[0]} but the image is {shape[1]}x{shape[0]}")
    mask = mask.astype(bool)
    if not mask.any():
        raise GanforgeError("the mask marks no pixels to fill (white = missing)")
    if mask.all():
        raise GanforgeError("the mask covers the whole image: nothing is known to inpaint from")
    return mask


def context_weights(mask: np.ndarray, radius: int = 3, base_weight: float = 0.1) -> torch.Tensor:
    """Yeh et al.'s context weights (1, 1, H, W): zero in the hole, higher next to it."""
    hole = torch.from_numpy(mask.astype(np.float32))[None, None]
    k = 2 * radius + 1
    near = F.avg_pool2d(hole, k, stride=1, padding=radius, count_include_pad=False) if radius > 0 else hole * 0
    return (1 - hole) * (base_weight + near)


def inpaint(G: nn.Module, image: np.ndarray, mask: np.ndarray, *, steps: int = 300, restarts: int = 4,
            D: nn.Module | None = None, context_radius: int = 3, base_weight: float = 0.1,
            prior_weight: float = 0.003, reg_weight: float = 0.01, blend: str = "poisson",
            labels: torch.Tensor | int | None = None, lr: float = 0.05, pool: int = 16,
            progress: ProgressFn | None = None, seed: int = 0) -> InpaintResult:
    """Fill the pixels of ``image`` uint8 (H, W, C) where ``mask`` (H, W) is True.

    ``D`` adds the realism prior (skipped when None). ``labels``: the class of a
    conditional model (None: chosen per restart). ``progress(step, steps, loss)`` after
    every step (returning False stops early). The returned image equals ``image`` wherever ``mask`` is False.
    """
    image = check_image(G, image, "image")
    mask = check_mask(mask, image.shape[:2])
    if blend not in BLENDS:
        raise GanforgeError(f"unknown blend {blend!r}; choose one of: {', '.join(BLENDS)}")
    if context_radius < 0:
        raise GanforgeError("context_radius must be 0 or more")
    device = module_device(G)
    y = image_to_tensor(image, device)
    w = context_weights(mask, context_radius, base_weight).to(device)
    w_sum = w.sum() * y.shape[1]
    use_prior = D is not None and prior_weight > 0

    with frozen(G, D):
        def loss_fn(x: torch.Tensor, z: torch.Tensor, lab: torch.Tensor | None) -> torch.Tensor:
            loss = (w * (x - y).abs()).flatten(1).sum(1) / w_sum
            if use_prior:  # a conditional D judges realism for the class the image was made for
                loss = loss + prior_weight * F.softplus(-D(x, lab))  # type: ignore[misc]  # use_prior: D is set
            if reg_weight > 0:
                loss = loss + reg_weight * shell_penalty(z)
            return loss

        found = search(G, loss_fn, steps=steps, restarts=restarts, pool=pool, lr=lr, seed=seed, labels=labels,
                       progress=progress)
    generated = found.image
    if blend == "poisson":
        filled = poisson_blend(image, generated, mask)
    else:
        filled = np.where(mask[..., None], generated, image)
    return InpaintResult(image=filled, latent=found.latent, generated=generated, losses=found.losses,
                         label=found.label, restart_losses=found.restart_losses)


def inpaint_once(G: nn.Module, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill the hole of ``image`` uint8 (H, W, C) where ``mask`` (H, W) is True with one forward pass of
    an inpainter run's ``G(x, mask)`` (``ganforge.models.inpainter``): no latent, no optimisation. The
    returned uint8 image equals ``image`` wherever ``mask`` is False."""
    from ganforge.sampling import to_uint8

    image = check_image(G, image, "image")
    mask = check_mask(mask, image.shape[:2])
    device = module_device(G)
    hole = torch.from_numpy(mask.astype(np.float32))[None, None].to(device)
    was_training = G.training
    G.eval()
    with torch.no_grad():
        generated = to_uint8(G(image_to_tensor(image, device), hole))[0]
    G.train(was_training)
    return np.where(mask[..., None], generated, image)  # known pixels exactly as given (no float round trip)


def poisson_blend(image: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Seamless cloning of ``generated`` into the hole of ``image`` (both uint8 (H, W, C)).

    Solves, for the hole pixels only, laplacian(out) = laplacian(generated) with out =
    image on the hole's border (Pérez et al. 2003); pixels outside the hole are copied.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    h, w, c = image.shape
    idx = -np.ones((h, w), dtype=np.int64)
    ys, xs = np.nonzero(mask)
    idx[ys, xs] = np.arange(len(ys))
    n = len(ys)
    rows, cols, vals = [], [], []
    b = np.zeros((n, c))
    img, gen = image.astype(np.float64), generated.astype(np.float64)
    degree = np.zeros(n)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        p = np.nonzero(inside)[0]
        qy, qx = ny[p], nx[p]
        degree[p] += 1
        b[p] += gen[ys[p], xs[p]] - gen[qy, qx]          # the guidance field: G(z)'s gradients
        q_idx = idx[qy, qx]
        unknown = q_idx >= 0
        rows.append(p[unknown])
        cols.append(q_idx[unknown])
        vals.append(-np.ones(unknown.sum()))
        known = ~unknown
        b[p[known]] += img[qy[known], qx[known]]           # Dirichlet border: the known pixels
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(degree)
    A = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsc()
    solution = splu(A).solve(b)
    out = image.copy()
    out[ys, xs] = np.clip(np.round(solution), 0, 255).astype(np.uint8)
    return out


def rectangle_mask(size: int, top: int, left: int, height: int, width: int) -> np.ndarray:
    """(size, size) bool mask, True inside the rectangle."""
    m = np.zeros((size, size), bool)
    m[top:top + height, left:left + width] = True
    return m


def free_form_mask(size: int, seed: int = 0, strokes: int = 4, max_width: float = 0.12,
                   coverage: tuple[float, float] = (0.15, 0.35)) -> np.ndarray:
    """A random brush-stroke mask (size, size), True where missing, like the free-form masks of
    DeepFill v2 evaluations: a few thick polylines, redrawn until the covered fraction is in ``coverage``."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for _ in range(100):
        im = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(im)
        for _ in range(strokes):
            x, y = rng.uniform(0, size, 2)
            width = max(2, int(rng.uniform(0.4, 1.0) * max_width * size))
            points = [(x, y)]
            for _ in range(int(rng.integers(2, 6))):
                angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.3) * size
                x = float(np.clip(x + length * np.cos(angle), 0, size - 1))
                y = float(np.clip(y + length * np.sin(angle), 0, size - 1))
                points.append((x, y))
            draw.line(points, fill=255, width=width, joint="curve")
            for px, py in points:
                draw.ellipse((px - width / 2, py - width / 2, px + width / 2, py + width / 2), fill=255)
        m = np.asarray(im) > 127
        if coverage[0] <= m.mean() <= coverage[1]:
            return m
    return m
