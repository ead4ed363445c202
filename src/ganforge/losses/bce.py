"""The non-saturating GAN loss (Goodfellow et al. 2014) on logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.losses.base import GANLoss, d_accuracy


class NonSaturatingLoss(GANLoss):
    """Goodfellow et al. 2014 with the non-saturating generator loss: BCE on logits.

    D minimises softplus(-D(x)) + softplus(D(G(z))); G minimises softplus(-D(G(z))).
    """

    name = "bce"

    def d_terms(self, real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_term(self, fake_logits):
        return F.softplus(-fake_logits).mean()

    def d_stats(self, real_logits, fake_logits):
        return {"d_real": torch.sigmoid(real_logits).mean().detach(),
                "d_fake": torch.sigmoid(fake_logits).mean().detach(),
                "d_acc": d_accuracy(real_logits, fake_logits)}
