"""The least-squares loss (Mao et al. 2017)."""

from __future__ import annotations

from ganforge.losses.base import GANLoss, d_accuracy


class LeastSquaresLoss(GANLoss):
    """LSGAN (Mao et al. 2017, targets a=0, b=c=1): D: (D(x)-1)^2/2 + D(G(z))^2/2; G: (D(G(z))-1)^2/2."""

    name = "lsgan"
    decision_threshold = 0.5  # halfway between the targets 0 (fake) and 1 (real)

    def d_terms(self, real_logits, fake_logits):
        return 0.5 * (real_logits - 1).square().mean() + 0.5 * fake_logits.square().mean()

    def g_term(self, fake_logits):
        return 0.5 * (fake_logits - 1).square().mean()

    def d_stats(self, real_logits, fake_logits):
        return {"d_real": real_logits.mean().detach(), "d_fake": fake_logits.mean().detach(),
                "d_acc": d_accuracy(real_logits, fake_logits, self.decision_threshold)}
