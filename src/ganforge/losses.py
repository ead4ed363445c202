"""GAN losses as objects that drive G and D; the networks know nothing about the loss.

A loss computes, for one discriminator step, ``d_loss(G, D, real, z, labels)`` and
for one generator step ``g_loss(G, D, z, labels)``, each returning the scalar to
minimise and a dict of detached 0-d tensors for the log (the trainer calls
``.item()`` only when it logs, so GPU steps do not synchronise every time). ``n_critic`` is the number of
D steps per G step. ``augment`` (if set) is applied to real and fake images right
before D, as differentiable augmentation must be.

To add a loss: subclass ``GANLoss`` and add it to ``LOSSES``.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


class GANLoss:
    name = "base"
    n_critic = 1  # discriminator steps per generator step

    def __init__(self, augment: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.augment = augment

    def _d(self, D, x: torch.Tensor, labels) -> torch.Tensor:
        if self.augment is not None:
            x = self.augment(x)
        return D(x, labels).float()  # logits in float32 whatever the autocast dtype

    def d_loss(self, G, D, real, z, labels) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def g_loss(self, G, D, z, labels) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError


def d_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Fraction of real and fake images D classifies correctly at threshold 0 (a training diagnostic)."""
    correct = (real_logits > 0).float().sum() + (fake_logits < 0).float().sum()
    return (correct / (real_logits.numel() + fake_logits.numel())).detach()


class NonSaturatingLoss(GANLoss):
    """Goodfellow et al. 2014 with the non-saturating generator loss: BCE on logits.

    D minimises softplus(-D(x)) + softplus(D(G(z))); G minimises softplus(-D(G(z))).
    """

    name = "bce"

    def d_loss(self, G, D, real, z, labels):
        with torch.no_grad():
            fake = G(z, labels)
        real_logits = self._d(D, real, labels)
        fake_logits = self._d(D, fake, labels)
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        return loss, {
            "d_loss": loss.detach(),
            "d_real": torch.sigmoid(real_logits).mean().detach(),
            "d_fake": torch.sigmoid(fake_logits).mean().detach(),
            "d_acc": d_accuracy(real_logits, fake_logits),
        }

    def g_loss(self, G, D, z, labels):
        fake_logits = self._d(D, G(z, labels), labels)
        loss = F.softplus(-fake_logits).mean()
        return loss, {"g_loss": loss.detach()}


LOSSES: dict[str, type[GANLoss]] = {
    "bce": NonSaturatingLoss,
}
