"""Residual GAN (SNGAN, Miyato et al. 2018; WGAN-GP's ResNet, Gulrajani et al. 2017), 8–256 px, built for 32–128.

Generator: z -> linear -> (N, c(4), 4, 4), then one up-block per doubling
(BN-ReLU-upsample-conv3-BN-ReLU-conv3, shortcut upsample-conv1), then BN-ReLU-conv3-tanh.
Discriminator: an "optimised" first block (conv3-ReLU-conv3-avgpool, shortcut
avgpool-conv1), then down-blocks (ReLU-conv3-ReLU-conv3-avgpool, shortcut conv1-avgpool)
down to 4×4, ReLU, sum over space -> features (N, F), linear -> logit. D has no
normalisation layer, so it suits per-sample gradient penalties (WGAN-GP, R1).

Widths: ``c(r) = width * min(16, R / r)`` channels at r px (R the output size), capped at
``options["max_width"]`` (default 512); for R = 128, width = 64 and no cap this is BigGAN's
1024-1024-512-256-128-64.

Options: ``spectral_norm`` (default true): spectral normalisation on every layer of D
(SNGAN); ``g_spectral_norm`` (default false): on G's layers too (SAGAN, BigGAN).

``cgan`` reuses these blocks with class-conditional batch norm and a projection head.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError
from ganforge.models.dcgan import MAX_WIDTH
from ganforge.utils import is_power_of_two

SPECTRAL_NORM = Option("spectral_norm", True, "spectral normalisation in D")
G_SPECTRAL_NORM = Option("g_spectral_norm", False, "spectral normalisation in G too")
OPTIONS = (SPECTRAL_NORM, G_SPECTRAL_NORM, MAX_WIDTH)


def check(cfg: ModelConfig) -> None:
    if not 8 <= cfg.resolution <= 256 or not is_power_of_two(cfg.resolution):
        raise ConfigError(f"{cfg.family} makes 8 to 256 px images, a power of two, not {cfg.resolution}")


def init_weights(module: nn.Module) -> None:
    """Nothing to do: the constructors initialise (Xavier, as SNGAN) before spectral norm wraps weights."""


def channels(cfg: ModelConfig, r: int) -> int:
    return min(cfg.width * min(16, cfg.resolution // r), int(MAX_WIDTH.value(cfg)))


def _layer(module: nn.Module, sn: bool) -> nn.Module:
    assert isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
    nn.init.xavier_uniform_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return spectral_norm(module) if sn else module


class BatchNorm(nn.Module):
    """Plain batch norm with the conditional norms' signature (x, labels) -> x."""

    def __init__(self, c: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.bn(x)


class GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, norm: Callable[[int], nn.Module], sn: bool):
        super().__init__()
        self.n1, self.n2 = norm(c_in), norm(c_out)
        self.c1 = _layer(nn.Conv2d(c_in, c_out, 3, 1, 1), sn)
        self.c2 = _layer(nn.Conv2d(c_out, c_out, 3, 1, 1), sn)
        self.sc = _layer(nn.Conv2d(c_in, c_out, 1), sn)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:  # (N, c_in, r, r) -> (N, c_out, 2r, 2r)
        h = F.interpolate(F.relu(self.n1(x, labels)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.n2(self.c1(h), labels)))
        return h + self.sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, sn: bool, first: bool):
        super().__init__()
        self.first = first
        self.c1 = _layer(nn.Conv2d(c_in, c_out, 3, 1, 1), sn)
        self.c2 = _layer(nn.Conv2d(c_out, c_out, 3, 1, 1), sn)
        self.sc = _layer(nn.Conv2d(c_in, c_out, 1), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, c_in, r, r) -> (N, c_out, r/2, r/2)
        h = x if self.first else F.relu(x)  # the first block sees the image itself
        h = F.avg_pool2d(self.c2(F.relu(self.c1(h))), 2)
        s = self.sc(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.sc(x), 2)
        return h + s


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig, norm: Callable[[int], nn.Module] = BatchNorm):
        super().__init__()
        self.cfg = cfg
        sn = bool(G_SPECTRAL_NORM.value(cfg))
        n = int(math.log2(cfg.resolution // 4))
        res = [4 * 2**i for i in range(n + 1)]  # 4, 8, ..., R
        self.c4 = channels(cfg, 4)
        self.fc = _layer(nn.Linear(cfg.latent_dim, self.c4 * 16), sn)
        self.blocks = nn.ModuleList(GBlock(channels(cfg, r), channels(cfg, 2 * r), norm, sn) for r in res[:-1])
        self.out_norm = norm(channels(cfg, cfg.resolution))
        self.out = _layer(nn.Conv2d(channels(cfg, cfg.resolution), cfg.channels, 3, 1, 1), sn)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(z.flatten(1)).view(z.shape[0], self.c4, 4, 4)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.out(F.relu(self.out_norm(h, labels))))  # (N, C, R, R)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        sn = bool(SPECTRAL_NORM.value(cfg))
        n = int(math.log2(cfg.resolution // 4))
        res = [cfg.resolution // 2**i for i in range(1, n + 1)]  # R/2, ..., 4: each block's output size
        c_in = [cfg.channels] + [channels(cfg, r) for r in res[:-1]]
        self.blocks = nn.Sequential(*(DBlock(ci, channels(cfg, r), sn, first=i == 0)
                                      for i, (ci, r) in enumerate(zip(c_in, res))))
        self.n_features = channels(cfg, 4)
        self.head = _layer(nn.Linear(self.n_features, 1), sn)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))  # (N, F)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x)).flatten()  # (N,)
