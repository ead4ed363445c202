"""Random holes for training and judging inpainting: batches of masks drawn from a seeded generator.

A mask is a float tensor (N, 1, R, R), 1 where a pixel is missing. Kinds:

- ``rect``: one axis-aligned rectangle per image, each side between R/4 and R/2 (Context Encoders'
  random-region holes, Pathak et al. 2016);
- ``free``: a few thick brush strokes, polylines of random turns (the free-form masks of Yu et al.
  2019), covering roughly 10 to 40 % of the image;
- ``both``: each image one kind or the other, at random.

Every random number comes from the ``torch.Generator`` passed in (on CPU), so a loss that keeps the
generator's state in its checkpoint draws the same holes after a resume.
"""

from __future__ import annotations

import torch

KINDS = ("rect", "free", "both")
STROKES = 3          # strokes per free-form mask
TURNS = 4            # segments per stroke


def rectangles(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """(n, 1, size, size): one rectangle per image, each side in [size/4, size/2]."""
    lo, hi = max(1, size // 4), max(1, size // 2)
    h = torch.randint(lo, hi + 1, (n,), generator=gen)
    w = torch.randint(lo, hi + 1, (n,), generator=gen)
    top = (torch.rand(n, generator=gen) * (size - h + 1)).long()
    left = (torch.rand(n, generator=gen) * (size - w + 1)).long()
    ys = torch.arange(size).view(1, size, 1)
    xs = torch.arange(size).view(1, 1, size)
    inside = ((ys >= top.view(-1, 1, 1)) & (ys < (top + h).view(-1, 1, 1))
              & (xs >= left.view(-1, 1, 1)) & (xs < (left + w).view(-1, 1, 1)))
    return inside.float().unsqueeze(1)


def strokes(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """(n, 1, size, size): ``STROKES`` polylines of ``TURNS`` segments each, 5 to 12 % of the side thick."""
    centres = (torch.arange(size, dtype=torch.float32) + 0.5)
    py, px = centres.view(1, size, 1), centres.view(1, 1, size)
    mask = torch.zeros(n, size, size, dtype=torch.bool)
    for _ in range(STROKES):
        radius = (0.025 + 0.035 * torch.rand(n, generator=gen)) * size + 0.5   # half the brush width
        point = torch.rand(n, 2, generator=gen) * size                         # (y, x)
        for _ in range(TURNS):
            angle = torch.rand(n, generator=gen) * 2 * torch.pi
            length = (0.1 + 0.2 * torch.rand(n, generator=gen)) * size
            step = torch.stack([angle.sin(), angle.cos()], 1) * length[:, None]
            end = (point + step).clamp(0, size - 1)
            mask |= _near_segment(py, px, point, end, radius)
            point = end
    return mask.float().unsqueeze(1)


def _near_segment(py: torch.Tensor, px: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                  radius: torch.Tensor) -> torch.Tensor:
    """(n, R, R): pixel centres within ``radius`` (n,) of the segment a-b (each (n, 2) as (y, x))."""
    ay, ax = a[:, 0].view(-1, 1, 1), a[:, 1].view(-1, 1, 1)
    dy, dx = (b - a)[:, 0].view(-1, 1, 1), (b - a)[:, 1].view(-1, 1, 1)
    t = (((py - ay) * dy + (px - ax) * dx) / (dy * dy + dx * dx).clamp_min(1e-6)).clamp(0, 1)
    dist2 = (py - ay - t * dy) ** 2 + (px - ax - t * dx) ** 2
    return dist2 <= radius.view(-1, 1, 1) ** 2


def random_masks(n: int, size: int, kind: str, gen: torch.Generator) -> torch.Tensor:
    """(n, 1, size, size) masks of ``kind`` (``KINDS``), 1 = missing. Both kinds are drawn for ``both``
    (so the generator advances alike whatever each image gets), then one is chosen per image."""
    if kind not in KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if kind == "rect":
        return rectangles(n, size, gen)
    if kind == "free":
        return strokes(n, size, gen)
    rect, free = rectangles(n, size, gen), strokes(n, size, gen)
    pick = (torch.rand(n, generator=gen) < 0.5).view(-1, 1, 1, 1)
    return torch.where(pick, rect, free)
