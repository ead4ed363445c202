"""Upsample-and-convolve GAN: the MITLGAN thesis's WGAN baseline.

Generator: z -> dense (no bias) + batch norm + LeakyReLU(0.2), reshaped to (N, width, b, b)
(b = 4, or 7 at 7·2^k px), then per doubling a nearest-neighbour 2× upsampling and a 3×3
convolution without bias that halves the channels, batch norm and LeakyReLU; the last
convolution gives C channels and tanh. With the thesis's latent 1536, width 96 and 128 px
RGB this is 4×4×96 -> 8×8×48 -> 16×16×24 -> 32×32×12 -> 64×64×6 -> 128×128×3.

Critic: four 5×5 stride-2 convolutions (padding 2) of ``d_width``, 2·, 4·, 8·``d_width``
channels (thesis: 48/96/192/384), each followed by LeakyReLU(0.2) and dropout
(``d_dropout``, thesis 0.3), no normalisation (so a per-image gradient penalty applies),
then flattened into one linear logit.

``width`` here is the channels of the first (base×base) map, halved at each doubling
(at least 1), not the channels of the widest-resolution layer as in dcgan.

Not written in anything ganforge holds, so chosen here and said: the upsampling mode
(nearest, Keras's UpSampling2D default), whether the critic's layers have biases (yes, the
Keras default), the LeakyReLU slope (0.2), and batch norm after the dense layer being over
its outputs (Keras's BatchNormalization after Dense). The thesis trained it as a WGAN;
ganforge has the gradient-penalty form (``--loss wgan-gp``), which the preset uses.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError
from ganforge.models.dcgan import DenseStem, base_of
from ganforge.models.init import INIT, initialise
from ganforge.utils import base_size

D_WIDTH = Option("d_width", 48, "channels of the critic's first 5x5 conv, doubled at each of its four")
D_DROPOUT = Option("d_dropout", 0.3, "dropout after each critic conv")
OPTIONS = (D_WIDTH, D_DROPOUT, INIT)
CRITIC_LAYERS = 4


def check(cfg: ModelConfig) -> None:
    if not 8 <= cfg.resolution <= 512 or base_size(cfg.resolution) is None:
        raise ConfigError(f"{cfg.family} makes 8 to 512 px images (a power of two, or 7·2^k), not {cfg.resolution}")
    if not 0 <= float(D_DROPOUT.value(cfg)) < 1:
        raise ConfigError(f"{cfg.family} d_dropout must be in [0, 1)")


def init_weights(module: nn.Module) -> None:
    initialise(module, getattr(module, "cfg", None))


def widths(cfg: ModelConfig) -> list[int]:
    """Channels at base, 2·base, ..., R/2 px: ``width`` halved at each doubling (at least 1)."""
    n = int(math.log2(cfg.resolution // base_of(cfg)))
    return [max(cfg.width >> i, 1) for i in range(n)]


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2)


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = widths(cfg)
        layers: list[nn.Module] = [DenseStem(cfg.latent_dim, w[0], base_of(cfg), _leaky)]
        for c_in, c_out in zip(w, w[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(c_out), _leaky()]
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(w[-1], cfg.channels, 3, 1, 1, bias=False),
                   nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z.flatten(1))  # (N, C, R, R)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        dropout = float(D_DROPOUT.value(cfg))
        c, side, layers = cfg.channels, cfg.resolution, []
        for i in range(CRITIC_LAYERS):
            c_out = int(D_WIDTH.value(cfg)) * 2**i
            layers += [nn.Conv2d(c, c_out, 5, 2, 2), _leaky(), nn.Dropout(dropout)]
            c, side = c_out, (side + 1) // 2  # kernel 5, stride 2, padding 2: ceil(side / 2)
        self.body = nn.Sequential(*layers)  # (N, 8·d_width, R/16, R/16)
        self.head = nn.Linear(c * side * side, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x)).flatten()  # (N,)
