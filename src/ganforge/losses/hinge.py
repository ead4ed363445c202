"""The hinge loss (Lim & Ye 2017), as SNGAN and BigGAN use it."""

from __future__ import annotations

import torch.nn.functional as F

from ganforge.losses.base import GANLoss


class HingeLoss(GANLoss):
    """Hinge loss (Lim & Ye 2017; SNGAN, BigGAN): D minimises relu(1-D(x)) + relu(1+D(G(z))); G: -D(G(z))."""

    name = "hinge"

    def d_terms(self, real_logits, fake_logits):
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_term(self, fake_logits):
        return -fake_logits.mean()
