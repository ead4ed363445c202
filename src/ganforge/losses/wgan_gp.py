"""The Wasserstein loss with a gradient penalty (Gulrajani et al. 2017)."""

from __future__ import annotations

from ganforge.losses.base import GANLoss, d_accuracy


class WGANGPLoss(GANLoss):
    """Wasserstein loss with gradient penalty (Gulrajani et al. 2017), 5 critic steps per G step.

    D minimises D(G(z)) - D(x) + gp_weight * GP; G minimises -D(G(z)). The critic's outputs
    have no fixed threshold, so ``d_acc`` counts images on the right side of the midpoint
    between the mean real and mean fake scores.
    """

    name = "wgan-gp"
    n_critic = 5
    gradient_penalty = True
    decision_threshold = None  # a critic's scores have no fixed boundary
    paper_optimiser = {"lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9}  # Gulrajani et al. 2017, Algorithm 1

    def d_terms(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()

    def g_term(self, fake_logits):
        return -fake_logits.mean()

    def d_stats(self, real_logits, fake_logits):
        mid = (real_logits.mean() + fake_logits.mean()) / 2
        return {"d_real": real_logits.mean().detach(), "d_fake": fake_logits.mean().detach(),
                "d_acc": d_accuracy(real_logits, fake_logits, mid.detach())}
