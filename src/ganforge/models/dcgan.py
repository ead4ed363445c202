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
from collections.abc import Callable

import torch
import torch.nn as nn

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError

D_NORMS: dict[str, Callable[[int], nn.Module]] = {"batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c),
                                                  "none": lambda c: nn.Identity()}
G_ACTIVATION = Option("g_activation", "relu", "generator activation", choices=("relu", "leaky_relu"))
MAX_WIDTH = Option("max_width", 512, "cap on channels per layer")
D_NORM = Option("d_norm", "batch", "discriminator normalisation; layer for WGAN-GP critics", choices=tuple(D_NORMS))
OPTIONS = (G_ACTIVATION, MAX_WIDTH, D_NORM)
GRADIENT_PENALTY_OPTIONS = {"d_norm": "layer"}  # batch norm mixes the images a per-image penalty looks at


def check(cfg: ModelConfig) -> None:
    if not 8 <= cfg.resolution <= 512:
        raise ConfigError(f"{cfg.family} makes 8 to 512 px images, not {cfg.resolution}")


def init_weights(module: nn.Module) -> None:
    """Weights from N(0, 0.02), batch-norm scales from N(1, 0.02), as in the DCGAN paper."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _widths(cfg: ModelConfig) -> list[int]:
    """Channels at 4, 8, ..., R/2 px (index 0 is the 4×4 layer)."""
    n = int(math.log2(cfg.resolution // 4))  # number of doublings from 4×4
    cap = int(MAX_WIDTH.value(cfg))
    return [min(cfg.width * 2 ** (n - 1 - i), cap) for i in range(n)]


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = _widths(cfg)
        act = nn.ReLU if G_ACTIVATION.value(cfg) == "relu" else lambda: nn.LeakyReLU(0.2)
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
        norm = D_NORMS[D_NORM.value(cfg)]
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), norm(w_out), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)              # (N, w_last, 4, 4)
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0)   # (N, 1, 1, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(x)).flatten()  # (N,)
