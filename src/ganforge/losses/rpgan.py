"""The relativistic pairing loss, RpGAN (Jolicoeur-Martineau 2019), as R3GAN regularises it.

Huang, Gokaslan, Kuleshov & Tompkin, "The GAN is dead; long live the GAN! A Modern GAN Baseline",
NeurIPS 2024 (R3GAN), eq. 2: each real image x is paired with a generated one G(z) and
D minimises f(D(G(z)) - D(x)), G minimises f(D(x) - D(G(z))), with f(t) = softplus(t) =
log(1 + e^t). Pairing makes D judge a fake relative to a real one, which the paper shows
removes the mode-dropping local minima of the classic loss; with zero-centred gradient
penalties on both real (R1) and fake (R2) data it is locally convergent (their section 2.2),
so use it with ``--r1-gamma`` and ``--r2-gamma`` (the paper: the same gamma for both, every
step). The penalties are the base loss's, so any family and loss can use them.

Pairs are the i-th real and i-th fake image of a micro-batch; the G step uses the real batch
of the iteration's last D update (the trainer hands it over), scored by D without gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.losses.base import GANLoss, Phase


class RelativisticPairingLoss(GANLoss):
    """RpGAN: D minimises softplus(D(G(z)) - D(x)); G minimises softplus(D(x) - D(G(z)))."""

    name = "rpgan"

    def d_terms(self, real_logits, fake_logits):
        return F.softplus(fake_logits - real_logits).mean()

    def g_term(self, fake_logits):
        raise TypeError("RpGAN's generator term needs the real images' logits: see g_loss_paired")

    def d_stats(self, real_logits, fake_logits):
        # a pair is judged right when the real image scores above its fake partner
        return {"d_real": real_logits.mean().detach(), "d_fake": fake_logits.mean().detach(),
                "d_acc": (real_logits > fake_logits).float().mean().detach()}

    def phases(self) -> list[Phase]:
        return [Phase("d_loss", "D", self.d_loss, repeat=self.n_critic),
                Phase("g_loss", "G", self.g_loss_paired, new_batch=False)]

    def g_loss_paired(self, G, D, real, z, labels) -> tuple[torch.Tensor, dict]:
        with torch.no_grad():  # the real side of each pair is a constant for G
            real_logits = self._d_out(D, real, labels)[0]
        fake_logits = self._d_out(D, G(z, labels), labels)[0]
        loss = F.softplus(real_logits - fake_logits).mean()
        return loss, {"g_loss": loss.detach()}
