"""CoGAN's objective (Liu & Tuzel 2016, eq. 4): each domain's GAN with the non-saturating
cross-entropy loss, the two summed; the weight sharing lives in the networks
(``ganforge.models.cogan``), which see a pair as one side-by-side image (N, C, R, 2R).

The real batch is unpaired (A and B images drawn independently), put side by side so that D's two
heads each see their own domain. We average the two domains' terms (the paper sums them; only the
learning rate's scale differs).
"""

from __future__ import annotations

import torch

from ganforge.losses.bce import NonSaturatingLoss
from ganforge.sampling import side_by_side


class CoupledLoss(NonSaturatingLoss):
    name = "cogan"
    paper_optimiser = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}

    def _d_out(self, D, x: torch.Tensor, labels) -> tuple[torch.Tensor, None]:
        """Logits of both domains' halves as one (2N,) vector: A's then B's."""
        if x.dim() == 5:  # the real two-domain batch (N, 2, C, R, R)
            x = side_by_side(x)
        if self.augment is not None:
            x = self.augment(x)
        return D(x).float().t().reshape(-1), None

    def g_loss(self, G, D, z, labels):
        return super().g_loss(G, D, z, None)

    def d_loss(self, G, D, real, z, labels):
        return super().d_loss(G, D, real, z, None)
