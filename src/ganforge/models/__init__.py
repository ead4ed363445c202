"""Model families, one file each, registered by name in a plain dict.

A family module defines ``Generator(cfg)`` and ``Discriminator(cfg)`` (``nn.Module``s
built only from a ``ModelConfig``) and ``check(cfg)`` that rejects settings the
family cannot build. Every generator takes ``(z, labels=None)`` with ``z`` of shape
(N, latent_dim) and returns images (N, C, R, R) in [-1, 1]; every discriminator
takes ``(x, labels=None)`` and returns logits of shape (N,), and ``features(x)``
gives its penultimate activations (N, F) for feature-matching losses.

Optional module attributes: ``OPTIONS`` (names of the ``options`` it reads),
``CONDITIONAL = True`` (labels required; ``num_classes`` comes from the data set),
``AUXILIARY_CLASSIFIER = True`` (``D(x, labels, with_classes=True)`` also returns class
logits (N, K), for the loss's auxiliary term), ``init_weights(module)`` (replaces the
DCGAN initialisation the trainer applies otherwise).

To add a family: write ``models/<name>.py`` and add one line to ``MODELS``.
"""

from __future__ import annotations

from types import ModuleType

import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.models import acgan, cgan, dcgan, mitlgan, mlp, resnet

MODELS: dict[str, ModuleType] = {
    "mlp": mlp,
    "dcgan": dcgan,
    "resnet": resnet,
    "cgan": cgan,
    "acgan": acgan,
    "mitlgan": mitlgan,  # composed of pretrained generators (ganforge compose)
}


def is_conditional(family: str) -> bool:
    return bool(getattr(MODELS[family], "CONDITIONAL", False))


def has_auxiliary_classifier(family: str) -> bool:
    return bool(getattr(MODELS[family], "AUXILIARY_CLASSIFIER", False))


def init_weights(family: str, module: nn.Module) -> None:
    """The family's own initialisation, or DCGAN's."""
    getattr(MODELS[family], "init_weights", init_dcgan_weights)(module)


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
