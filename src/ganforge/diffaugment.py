"""Differentiable augmentation for the discriminator (DiffAugment, Zhao et al. 2020).

Applied inside the loss to real *and* generated images right before D, in both the
D and the G step, so D never sees un-augmented images and G's gradient flows through
the augmentation. Every transform is differentiable w.r.t. the image and keeps its
shape (N, C, H, W); images are in [-1, 1] as everywhere in ganforge.

``strength`` s scales every magnitude; s = 1 is the paper's setting:

- color: brightness + U(-0.5, 0.5)·s, saturation × (1 + U(-1, 1)·s), contrast × (1 + U(-0.5, 0.5)·s);
- translation: integer shifts up to s/8 of the side, zero padding;
- cutout: one square of side s/2 of the image, set to zero.

Random numbers come from the given CPU ``torch.Generator`` (the trainer keeps one per
process and saves it in the checkpoint), so augmented training resumes exactly.

To add an augmentation: write ``fn(x, strength, generator) -> x`` and add it to ``AUGMENTATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganforge.errors import ConfigError


def _rand(shape, generator, device) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(device)


def color(x: torch.Tensor, strength: float, generator: torch.Generator | None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand((n, 1, 1, 1), generator, x.device) - 0.5) * strength  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (1 + (_rand((n, 1, 1, 1), generator, x.device) * 2 - 1) * strength) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (1 + (_rand((n, 1, 1, 1), generator, x.device) - 0.5) * strength) + mean  # contrast
    return x


def _side(size: int, ratio: float, strength: float) -> int:
    return int(size * ratio * strength + 0.5)  # rounded half up, as in the DiffAugment code


def _randint(low: int, high: int, n: int, generator, device) -> torch.Tensor:
    """(n, 1, 1) integers in [low, high), drawn on CPU from ``generator``."""
    return torch.randint(low, high, (n, 1, 1), generator=generator).to(device)


def translation(x: torch.Tensor, strength: float, generator: torch.Generator | None, ratio: float = 0.125
                ) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = _side(h, ratio, strength), _side(w, ratio, strength)  # largest shifts
    if sh == sw == 0:
        return x
    ty, tx = _randint(-sh, sh + 1, n, generator, x.device), _randint(-sw, sw + 1, n, generator, x.device)
    # Output pixel (i, j) reads input pixel (i - ty, j - tx) of the image padded by one zero pixel.
    iy = torch.arange(h, device=x.device).view(1, h, 1) - ty + 1      # (N, H, 1) into padded rows
    ix = torch.arange(w, device=x.device).view(1, 1, w) - tx + 1      # (N, 1, W) into padded columns
    iy, ix = iy.clamp(0, h + 1), ix.clamp(0, w + 1)                   # out of range -> the zero border
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))                  # (N, C, H+2, W+2)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, iy, ix].permute(0, 3, 1, 2)  # (N, C, H, W)


def cutout(x: torch.Tensor, strength: float, generator: torch.Generator | None, ratio: float = 0.5
           ) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = _side(h, ratio, strength), _side(w, ratio, strength)  # the hole's sides
    if 0 in (ch, cw):
        return x
    cy = _randint(0, h + (1 - ch % 2), n, generator, x.device)  # centres, as in the DiffAugment code
    cx = _randint(0, w + (1 - cw % 2), n, generator, x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (((ys - cy + ch // 2) >= 0) & ((ys - cy + ch // 2) < ch)
              & ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw))
    return x * (~inside).unsqueeze(1).to(x.dtype)  # (N, 1, H, W) mask broadcast over channels


AUGMENTATIONS: dict[str, Callable] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def parse_policy(policy: str) -> list[str]:
    """'color,translation' -> ['color', 'translation'], refusing unknown names."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        if name not in AUGMENTATIONS:
            raise ConfigError(f"unknown augmentation {name!r}; choose from: {', '.join(AUGMENTATIONS)}")
    return names


class DiffAugment:
    """Callable x -> augmented x applying the policy's transforms in order."""

    def __init__(self, policy: str = "color,translation,cutout", strength: float = 1.0,
                 generator: torch.Generator | None = None):
        if strength < 0:
            raise ConfigError("augmentation strength must be >= 0")
        self.names = parse_policy(policy)
        self.strength = strength
        self.generator = generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.names:
            x = AUGMENTATIONS[name](x, self.strength, self.generator)
        return x
