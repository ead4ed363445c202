"""The original GAN with dense layers (Goodfellow et al. 2014).

Generator: z -> 256 -> 512 -> 1024 -> C*R*R (LeakyReLU, tanh output).
Discriminator: C*R*R -> 1024 -> 512 -> 256 -> 1 (LeakyReLU 0.2, dropout 0.3).
``width`` scales the hidden sizes (64 gives the sizes above).

Options for the cats thesis's dense GAN (MNIST, 28×28 = 784 outputs): ``g_batch_norm``
puts batch norm after each hidden dense layer of G (256-512-1024, then 784 and tanh), and
``d_layers = 2`` keeps D's last two hidden layers (512-256, dropout after each). The thesis's
dropout rate is not written in anything ganforge has; 0.3 is kept. ``init`` as dcgan's.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ganforge.config import ModelConfig, Option, model_config
from ganforge.errors import ConfigError
from ganforge.models.init import INIT, initialise

DROPOUT = Option("dropout", 0.3, "dropout in D")
G_BATCH_NORM = Option("g_batch_norm", False, "batch norm after each hidden dense layer of G (the cats thesis)")
D_LAYERS = Option("d_layers", 3, "hidden layers of D: 3 (1024-512-256) or 2 (512-256, the cats thesis)",
                  choices=(2, 3))
OPTIONS = (DROPOUT, G_BATCH_NORM, D_LAYERS, INIT)
CONVOLUTIONAL = False


def check(cfg: ModelConfig) -> None:
    if cfg.resolution > 128:
        raise ConfigError(f"mlp is meant for small images (up to 128 px), not {cfg.resolution}")


def init_weights(module: nn.Module) -> None:
    initialise(module, model_config(module))


def _hidden(cfg: ModelConfig) -> list[int]:
    return [cfg.width * 4, cfg.width * 8, cfg.width * 16]


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        sizes = [cfg.latent_dim] + _hidden(cfg)
        bn = bool(G_BATCH_NORM.value(cfg))
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):  # no Identity when off: checkpoints keep their layer names
            layers += [nn.Linear(a, b), *([nn.BatchNorm1d(b)] if bn else []), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(sizes[-1], cfg.channels * cfg.resolution**2), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        c, r = self.cfg.channels, self.cfg.resolution
        return self.net(z.flatten(1)).view(-1, c, r, r)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        dropout = float(DROPOUT.value(cfg))
        hidden = list(reversed(_hidden(cfg)))[-int(D_LAYERS.value(cfg)):]  # the last ones: 512-256 for 2
        sizes = [cfg.channels * cfg.resolution**2] + hidden
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-1], 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x)).flatten()
