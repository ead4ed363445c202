"""DCGAN (Radford et al. 2015) at any power-of-two resolution from a 4×4 base.

Generator: z -> 4×4 by a transposed conv (kernel 4), then one transposed conv
(kernel 4, stride 2, padding 1) + batch norm + ReLU per doubling, tanh at the end.
Discriminator mirrors it: strided convs + LeakyReLU(0.2), batch norm on all but
the first, and a 4×4 conv to one logit.

Widths: the layer at resolution r has ``width * R / (2 r)`` channels (R the output
size), capped at ``options["max_width"]`` (default 512) so 256 px stays trainable.
For R=64, width=64 this is the paper's 512-256-128-64.

``options["d_norm"]``: D's normalisation, ``batch`` (the paper), ``layer`` (per-sample,
as a WGAN-GP critic needs: the gradient penalty is per image) or ``none``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError

OPTIONS = ("g_activation", "max_width", "d_norm")
D_NORMS = {"batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c), "none": lambda c: nn.Identity()}


def check(cfg: ModelConfig) -> None:
    if not 8 <= cfg.resolution <= 512:
        raise ConfigError(f"dcgan makes 8 to 512 px images, not {cfg.resolution}")
    act = cfg.options.get("g_activation", "relu")
    if act not in ("relu", "leaky_relu"):
        raise ConfigError(f"dcgan g_activation must be relu or leaky_relu, not {act!r}")
    if cfg.options.get("d_norm", "batch") not in D_NORMS:
        raise ConfigError(f"dcgan d_norm must be one of {', '.join(D_NORMS)}")


def _widths(cfg: ModelConfig) -> list[int]:
    """Channels at 4, 8, ..., R/2 px (index 0 is the 4×4 layer)."""
    n = int(math.log2(cfg.resolution // 4))  # number of doublings from 4×4
    cap = int(cfg.options.get("max_width", 512))
    return [min(cfg.width * 2 ** (n - 1 - i), cap) for i in range(n)]


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = _widths(cfg)
        act = nn.ReLU if cfg.options.get("g_activation", "relu") == "relu" else lambda: nn.LeakyReLU(0.2)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.latent_dim, widths[0], 4, 1, 0, bias=False),  # (N, w0, 4, 4)
            nn.BatchNorm2d(widths[0]),
            act(),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), act()]
        layers += [nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))  # (N, C, R, R)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = list(reversed(_widths(cfg)))  # channels at R/2, R/4, ..., 4 px
        norm = D_NORMS[cfg.options.get("d_norm", "batch")]
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), norm(w_out), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)              # (N, w_last, 4, 4)
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0)   # (N, 1, 1, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(x)).flatten()  # (N,)
