"""R3GAN's minimalist networks (Huang, Gokaslan, Kuleshov & Tompkin, "The GAN is dead; long live the
GAN! A Modern GAN Baseline", NeurIPS 2024, section 3 "Config E"), 32–256 px.

A plain modern ResNet with no normalisation, no noise, no mapping network and no tricks; the
stability comes from the loss (``--loss rpgan`` with R1 and R2, the family's ``TRAIN_DEFAULTS``).

- Residual block (both networks): x + conv1(act(conv3_grouped(act(conv1(x))))): a 1x1 conv
  widens to ``expansion`` x the channels (an inverted bottleneck), a 3x3 grouped conv of
  ``group_width`` channels per group works there, a 1x1 conv narrows back. act is leaky ReLU
  (0.2) with a learned bias; the convs have no bias.
- Fix-up initialisation: He-normal weights, scaled by L^(-1/4) for the first two convs of a
  block (L: all residual blocks of the network; their variance then does not grow with depth)
  and zero for its last conv, so every block starts as the identity.
- Generator: z -> a learned 4x4 basis, one scale per channel from a linear map of z; a stage
  per resolution of ``blocks`` residual blocks; between stages a 1x1 conv (where the width
  changes) and bilinear upsampling; a 1x1 conv to the image.
- Discriminator: a 1x1 conv from the image, mirrored stages, each followed by bilinear
  downsampling (a 2x2 mean: what bilinear resampling gives at half size) and a 1x1 conv; at
  4x4 a depthwise 4x4 conv to one vector (the features) and a linear map to the logit.

Widths: ``width`` x min(8, 256 / r) channels at r px, capped at ``max_width`` (default: none),
so ``width`` 96 is the paper's (768 channels up to 32 px, halving above: CIFAR-10 768-768-768-768,
FFHQ-256 768, ..., 192, 96). The paper's CIFAR-10 and FFHQ set-ups use 2 blocks per stage, expansion
2 and 16 channels per group; those are the defaults.

Where we differ, and why: a tanh on G's output (the paper's G is linear and its images are
clipped afterwards; every ganforge generator returns images in [-1, 1], which exports, the
latent tools and the tests rely on); the paper's schedules (learning rate, gamma, beta2 and
augmentation ramped over 20 M images) are constants here, at their final values for Adam's beta2 and
their starting values for gamma and the learning rate (our runs are far shorter than the ramp).
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError

BLOCKS = Option("blocks", 2, "residual blocks per resolution")
EXPANSION = Option("expansion", 2, "inverted bottleneck: a block's inner width / its width")
GROUP_WIDTH = Option("group_width", 16, "channels per group of a block's grouped 3x3 conv")
MAX_CHANNELS = Option("max_channels", 0, "cap on channels per stage (0: none)")
OPTIONS = (BLOCKS, EXPANSION, GROUP_WIDTH, MAX_CHANNELS)
# The paper's loss and Adam (beta1 0, beta2 0.99, 2e-4), with gamma at its CIFAR-10 start; a G average
TRAIN_DEFAULTS = {"loss": "rpgan", "r1_gamma": 0.05, "r2_gamma": 0.05, "lr_g": 2e-4, "lr_d": 2e-4,
                  "beta1": 0.0, "beta2": 0.99, "ema": 0.999}
CONVOLUTIONAL = True
GRADIENT_PENALTY_OPTIONS: dict = {}  # D has no normalisation: every image is scored on its own already

LEAK = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + LEAK**2))  # He's gain for leaky ReLU


def check(cfg: ModelConfig) -> None:
    if not 32 <= cfg.resolution <= 256:
        raise ConfigError(f"{cfg.family} makes 32 to 256 px images, not {cfg.resolution}")
    for o in (BLOCKS, EXPANSION, GROUP_WIDTH):
        if int(o.value(cfg)) < 1:
            raise ConfigError(f"{o.flag} must be at least 1")
    if int(MAX_CHANNELS.value(cfg)) < 0:
        raise ConfigError(f"{MAX_CHANNELS.flag} must be >= 0")


def init_weights(module: nn.Module) -> None:
    """Nothing to do: the constructors give the fix-up initialisation (it depends on the network's depth)."""


def channels(cfg: ModelConfig, r: int) -> int:
    c = cfg.width * min(8, 256 // r)
    cap = int(MAX_CHANNELS.value(cfg))
    return min(c, cap) if cap else c


Layer = TypeVar("Layer", nn.Conv2d, nn.Linear)


def _he(layer: Layer, gain: float = 1.0) -> Layer:
    """He-normal weights with ``gain`` (0: zeros), no bias."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    return layer


def _conv(c_in: int, c_out: int, k: int, gain: float = 1.0, groups: int = 1) -> nn.Conv2d:
    return _he(nn.Conv2d(c_in, c_out, k, padding=(k - 1) // 2, groups=groups, bias=False), gain)


class BiasedLeakyReLU(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, 1, 1), LEAK)


def _groups(c: int, group_width: int) -> int:
    """The most groups of about ``group_width`` channels that divide ``c``."""
    groups = max(1, c // group_width)
    while c % groups:
        groups -= 1
    return groups


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))), widened inside by ``expansion``."""

    def __init__(self, c: int, cfg: ModelConfig, total_blocks: int):
        super().__init__()
        inner = c * int(EXPANSION.value(cfg))
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / 4)  # fix-up: L^(-1/(2m-2)) with m = 3 layers
        self.widen = _conv(c, inner, 1, gain)
        self.act1 = BiasedLeakyReLU(inner)
        self.mix = _conv(inner, inner, 3, gain, groups=_groups(inner, int(GROUP_WIDTH.value(cfg))))
        self.act2 = BiasedLeakyReLU(inner)
        self.narrow = _conv(inner, c, 1, gain=0.0)  # zero: the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.narrow(self.act2(self.mix(self.act1(self.widen(x)))))


def _stage(c: int, cfg: ModelConfig, total_blocks: int) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlock(c, cfg, total_blocks) for _ in range(int(BLOCKS.value(cfg)))))


def _sizes(cfg: ModelConfig) -> list[int]:
    return [2**i for i in range(2, int(math.log2(cfg.resolution)) + 1)]  # 4, 8, ..., R


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        sizes = _sizes(cfg)
        total = len(sizes) * int(BLOCKS.value(cfg))
        c4 = channels(cfg, 4)
        self.basis = nn.Parameter(torch.randn(c4, 4, 4))
        self.scales = _he(nn.Linear(cfg.latent_dim, c4, bias=False))
        self.stages = nn.ModuleList(_stage(channels(cfg, r), cfg, total) for r in sizes)
        self.widths = nn.ModuleList(  # 1x1 convs before each upsampling where the width changes
            _conv(channels(cfg, r), channels(cfg, 2 * r), 1) if channels(cfg, r) != channels(cfg, 2 * r)
            else nn.Identity() for r in sizes[:-1])
        self.to_image = _conv(channels(cfg, cfg.resolution), cfg.channels, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.basis.unsqueeze(0) * self.scales(z.flatten(1))[:, :, None, None]  # (N, c4, 4, 4)
        for i, stage in enumerate(self.stages):
            if i:
                h = F.interpolate(self.widths[i - 1](h), scale_factor=2, mode="bilinear", align_corners=False)
            h = stage(h)
        return torch.tanh(self.to_image(h))  # (N, C, R, R)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        sizes = list(reversed(_sizes(cfg)))  # R, ..., 4
        total = len(sizes) * int(BLOCKS.value(cfg))
        self.from_image = _conv(cfg.channels, channels(cfg, cfg.resolution), 1)
        self.stages = nn.ModuleList(_stage(channels(cfg, r), cfg, total) for r in sizes)
        self.widths = nn.ModuleList(  # 1x1 convs after each downsampling where the width changes
            _conv(channels(cfg, r), channels(cfg, r // 2), 1) if channels(cfg, r) != channels(cfg, r // 2)
            else nn.Identity() for r in sizes[:-1])
        c4 = channels(cfg, 4)
        self.basis = _he(nn.Conv2d(c4, c4, 4, groups=c4, bias=False))  # depthwise, 4x4 -> 1x1
        self.n_features = c4
        self.head = _he(nn.Linear(c4, 1, bias=False))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.from_image(x)
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < len(self.widths):
                h = self.widths[i](F.avg_pool2d(h, 2))
        return self.basis(h).flatten(1)  # (N, c4)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x)).flatten()  # (N,)
