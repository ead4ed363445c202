"""Conditional residual GAN: class-conditional batch norm in G, projection discriminator (Miyato & Koyama 2018).

The SNGAN-projection recipe on the ``resnet`` blocks. G: every batch norm's scale and
shift come from per-class embeddings (de Vries et al. 2017; scales start at 1, shifts at
0). D: ``logit = linear(phi(x)) + <embed(y), phi(x)>`` with phi(x) (N, F) the pooled
features, so the class enters D as an inner product rather than an input channel.

Needs ``num_classes`` >= 2 (taken from the data set's classes) and labels in G and D.
Same options as ``resnet`` (``spectral_norm``, ``g_spectral_norm``, ``max_width``).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.models import resnet

CONDITIONAL = True  # labels are required; num_classes comes from the data set
OPTIONS = resnet.OPTIONS
init_weights = resnet.init_weights


def check(cfg: ModelConfig) -> None:
    resnet.check(cfg)
    check_classes(cfg)


def check_classes(cfg: ModelConfig) -> None:
    if cfg.num_classes < 2:
        raise ConfigError(f"{cfg.family} is conditional: it needs a data set with at least 2 classes "
                          "(prepare one with --labels subfolders, or use fashion-mnist)")


def require_labels(labels: torch.Tensor | None, family: str) -> torch.Tensor:
    if labels is None:
        raise ValueError(f"{family} is a conditional model: pass class labels (N,)")
    return labels


class ConditionalBatchNorm(nn.Module):
    """BN without its own affine part; scale and shift per class: (x (N,C,H,W), y (N,)) -> (N,C,H,W)."""

    def __init__(self, c: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, affine=False)
        self.gain = nn.Embedding(num_classes, c)
        self.bias = nn.Embedding(num_classes, c)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = require_labels(labels, "cgan")
        h = self.bn(x)
        return h * self.gain(labels)[:, :, None, None] + self.bias(labels)[:, :, None, None]


class Generator(resnet.Generator):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, norm=partial(ConditionalBatchNorm, num_classes=cfg.num_classes))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(z, require_labels(labels, "cgan"))


class Discriminator(resnet.Discriminator):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        embed = nn.Embedding(cfg.num_classes, self.n_features)
        nn.init.xavier_uniform_(embed.weight)
        self.embed = resnet.spectral_norm(embed) if resnet.SPECTRAL_NORM.value(cfg) else embed

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)                                                  # (N, F)
        projection = (self.embed(require_labels(labels, "cgan")) * h).sum(1)  # (N,)
        return self.head(h).flatten() + projection
