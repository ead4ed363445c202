"""The least-squares loss (Mao et al. 2017)."""

from __future__ import annotations

import torch

from ganforge.losses.base import GANLoss, d_accuracy


def lsgan_real(logits: torch.Tensor) -> torch.Tensor:
    """Least-squares distance of D's scores from the "real" target 1."""
    return (logits.float() - 1).square().mean()


def lsgan_fake(logits: torch.Tensor) -> torch.Tensor:
    """Least-squares distance of D's scores from the "fake" target 0."""
    return logits.float().square().mean()


class LeastSquaresLoss(GANLoss):
    """LSGAN (Mao et al. 2017, targets a=0, b=c=1): D: (D(x)-1)^2/2 + D(G(z))^2/2; G: (D(G(z))-1)^2/2."""

    name = "lsgan"
    decision_threshold = 0.5  # halfway between the targets 0 (fake) and 1 (real)

    def d_terms(self, real_logits, fake_logits):
        return 0.5 * lsgan_real(real_logits) + 0.5 * lsgan_fake(fake_logits)

    def g_term(self, fake_logits):
        return 0.5 * lsgan_real(fake_logits)

    def d_stats(self, real_logits, fake_logits):
        return {"d_real": real_logits.mean().detach(), "d_fake": fake_logits.mean().detach(),
                "d_acc": d_accuracy(real_logits, fake_logits, self.decision_threshold)}
