"""Auxiliary-classifier GAN (Odena et al. 2017) on DCGAN networks.

G: the DCGAN generator fed [z, one_hot(y)] (N, latent_dim + K). D: the DCGAN
discriminator with a second head on its 4×4 features giving class logits (N, K).
``D(x)`` returns the real/fake logits (N,) like every family; ``D(x, with_classes=True)``
returns (logits (N,), class logits (N, K)), which the loss asks for (``--ac-weight``):
the classification term lives in the loss, not in the network.

Needs ``num_classes`` >= 2 (taken from the data set's classes). DCGAN's options apply.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.config import ModelConfig
from ganforge.models import dcgan
from ganforge.models.cgan import check_classes, require_labels

CONDITIONAL = True
AUXILIARY_CLASSIFIER = True  # D(x, with_classes=True) -> (logits, class logits)
OPTIONS = dcgan.OPTIONS
GRADIENT_PENALTY_OPTIONS = dcgan.GRADIENT_PENALTY_OPTIONS


def check(cfg: ModelConfig) -> None:
    dcgan.check(cfg)
    check_classes(cfg)


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.net = dcgan.Generator(replace(cfg, latent_dim=cfg.latent_dim + cfg.num_classes))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = F.one_hot(require_labels(labels, "acgan"), self.cfg.num_classes).to(z.dtype)
        return self.net(torch.cat([z.flatten(1), y], 1))  # (N, C, R, R)


class Discriminator(dcgan.Discriminator):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        side = self.head.kernel_size[0]  # the base: 4 (or 7 at 28 px)
        # on the (N, w, b, b) features
        self.classifier = nn.Linear(self.head.in_channels * side * side, cfg.num_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, with_classes: bool = False):
        h = self.body(x)                                # (N, w, b, b)
        logits = self.head(h).flatten()                 # (N,)
        if with_classes:
            return logits, self.classifier(h.flatten(1))  # (N,), (N, K)
        return logits
