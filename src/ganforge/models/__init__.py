"""Model families, one file each, registered by name in a plain dict.

A family module defines ``Generator(cfg)`` and ``Discriminator(cfg)`` (``nn.Module``s
built only from a ``ModelConfig``) and ``check(cfg)`` that rejects settings the
family cannot build. Every generator takes ``(z, labels=None)`` with ``z`` of shape
(N, latent_dim) and returns images (N, C, R, R) in [-1, 1]; every discriminator
takes ``(x, labels=None)`` and returns logits of shape (N,), and ``features(x)``
gives its penultimate activations (N, F) for feature-matching losses.

To add a family: write ``models/<name>.py`` and add one line to ``MODELS``.
"""

from __future__ import annotations

from types import ModuleType

import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.models import dcgan, mitlgan, mlp

MODELS: dict[str, ModuleType] = {
    "mlp": mlp,
    "dcgan": dcgan,
    "mitlgan": mitlgan,  # composed of pretrained generators (ganforge compose)
}


def build_generator(cfg: ModelConfig) -> nn.Module:
    cfg.validate()
    return MODELS[cfg.family].Generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    cfg.validate()
    return MODELS[cfg.family].Discriminator(cfg)


def init_dcgan_weights(module: nn.Module) -> None:
    """Weights from N(0, 0.02), batch-norm scales from N(1, 0.02), as in the DCGAN paper."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
