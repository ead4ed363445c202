"""The inpainter's objective (``ganforge.models.inpainter``): Context Encoders' joint loss (Pathak et
al. 2016, section 3.2) with L1 on the hole, as Iizuka et al. 2017 and Yu et al. 2019 train.

Each iteration draws random holes (``ganforge.holes``, the family's ``--masks``) for the real batch
and runs

- D (DCGAN's, unchanged): real images against completed ones, G(x with a hole, mask), with the
  adversarial terms ``--adversarial`` names (``bce``: non-saturating, ``hinge``), and every D option
  of the base loss (augmentation, ADA, R1/R2, gradient penalty) as for any other family;
- G: ``hole_weight`` * mean |G(x, m) - x| over the hole's pixels (the known ones are pasted back,
  so only the hole can differ) + ``adv_weight`` * the adversarial term on the completed images.

The holes come from the loss's own seeded generator, whose state is checkpointed
(``state_dict``): a resumed run draws the holes it would have drawn.
"""

from __future__ import annotations

import torch

from ganforge.holes import random_masks
from ganforge.losses.base import GANLoss, Phase
from ganforge.losses.bce import NonSaturatingLoss
from ganforge.losses.hinge import HingeLoss

ADVERSARIAL: dict[str, type[GANLoss]] = {"bce": NonSaturatingLoss, "hinge": HingeLoss}
HOLES_SEED = 20160425  # the hole generator's seed (the same for every run, as CycleGAN's history buffers)


def hole_l1(completed: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the hole's pixels and channels (mask (N, 1, H, W), 1 = missing)."""
    mask = mask.to(torch.float32)
    total = ((completed.float() - real.float()).abs() * mask).sum()
    return total / (mask.sum() * real.shape[1]).clamp_min(1.0)


class InpainterLoss(GANLoss):
    name = "inpainter"
    paper_optimiser = {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999}

    def __init__(self, augment=None, **kwargs):
        super().__init__(augment, **kwargs)
        o = self.family_options  # the inpainter family's options (models/inpainter.py: defaults and help)
        self.masks = str(o["masks"])
        self.hole_weight = float(o["hole_weight"])
        self.adv_weight = float(o["adv_weight"])
        self.adversarial = ADVERSARIAL[str(o["adversarial"])]()
        self.holes = torch.Generator().manual_seed(HOLES_SEED)

    # the adversarial terms are the chosen loss's
    def d_terms(self, real_logits, fake_logits):
        return self.adversarial.d_terms(real_logits, fake_logits)

    def g_term(self, fake_logits):
        return self.adversarial.g_term(fake_logits)

    def d_stats(self, real_logits, fake_logits):
        return self.adversarial.d_stats(real_logits, fake_logits)

    def draw_masks(self, real: torch.Tensor) -> torch.Tensor:
        """Holes (N, 1, R, R) for the real batch, from the loss's own generator."""
        return random_masks(len(real), real.shape[-1], self.masks, self.holes).to(real.device, real.dtype)

    def phases(self) -> list[Phase]:
        return [Phase("d_loss", "D", self.d_step, repeat=self.n_critic),
                Phase("g_loss", "G", self.g_step, new_batch=False)]

    def d_step(self, G, D, real, z, labels):
        """The base loss's D step (penalties, augmentation, ADA's statistics), its "fakes" the completions."""
        mask = self.draw_masks(real)
        return self.d_loss(lambda _z, _labels: G(real, mask), D, real, z, labels)

    def g_step(self, G, D, real, z, labels):
        mask = self.draw_masks(real)
        completed = G(real, mask)
        adv = self.g_term(self._d_out(D, completed, labels)[0])
        rec = hole_l1(completed, real, mask)
        loss = self.hole_weight * rec + self.adv_weight * adv
        return loss, {"hole_l1": rec.detach(), "g_adv": adv.detach(), "g_loss": loss.detach()}

    def state_dict(self) -> dict:
        return {"holes": self.holes.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if "holes" in state:
            self.holes.set_state(state["holes"])
