"""StyleGAN2's loss (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", sec. 3).

The non-saturating logistic loss, with the regularisers run lazily, as phases of their own:

- **R1** (Mescheder et al. 2018) on real images, a D phase every ``R1_EVERY`` = 16 iterations:
  ``gamma/2 * E|grad_x D(x)|^2``, multiplied by 16 so its average effect is that of a per-step
  penalty (the paper's lazy regularisation). ``--r1-gamma`` is gamma (0: no R1 phase).
- **Path length** (sec. 3.2), a G phase every ``PL_EVERY`` = 4 iterations when ``--pl-weight`` > 0
  (the paper: 2): for y ~ N(0, I)/R, ``|J_w^T y|`` should stay near its running mean ``a``:
  ``pl_weight * (|J_w^T y| - a)^2``, multiplied by 4. ``a`` is an exponential average (decay 0.01)
  kept by the loss and checkpointed (``state_dict``), so resume is exact. It needs a style-based
  generator, one that returns its ws (``G(z, return_ws=True)``). Like the paper's code, it runs on
  half the batch.

Style mixing is the generator's own business (``ganforge.models.stylegan2``) in training mode.
"""

from __future__ import annotations

import math

import torch

from ganforge.errors import ConfigError
from ganforge.losses.base import Phase, r1_penalty
from ganforge.losses.bce import NonSaturatingLoss

R1_EVERY = 16      # D iterations between R1 phases (the paper's lazy interval)
PL_EVERY = 4       # G iterations between path-length phases
PL_DECAY = 0.01    # speed of the running mean of path lengths
PL_BATCH_SHRINK = 2  # the path-length phase runs on batch / 2 images


class StyleGAN2Loss(NonSaturatingLoss):
    name = "stylegan2"
    train_options = ("pl_weight",)  # TrainConfig fields the trainer passes to the constructor
    paper_optimiser = {"lr_g": 0.002, "lr_d": 0.002, "beta1": 0.0, "beta2": 0.99}  # the paper's config F

    def __init__(self, augment=None, *, r1_gamma: float = 0.0, pl_weight: float = 0.0, **kwargs):
        super().__init__(augment, **kwargs)  # r1_gamma stays 0 there: D's main phase carries no R1 term
        self.lazy_r1_gamma = r1_gamma
        self.pl_weight = pl_weight
        self.pl_mean = torch.zeros(())

    def phases(self) -> list[Phase]:
        phases = super().phases()
        if self.lazy_r1_gamma:
            phases.insert(1, Phase("r1_loss", "D", self.r1_loss, every=R1_EVERY))
        if self.pl_weight:
            phases.append(Phase("pl_loss", "G", self.pl_loss, every=PL_EVERY, new_batch=False))
        return phases

    def state_dict(self) -> dict:
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.pl_mean = state.get("pl_mean", torch.zeros(())).clone()

    def r1_loss(self, G, D, real, z, labels) -> tuple[torch.Tensor, dict]:
        """gamma/2 * E|grad D(x)|^2 on real images, times the interval (lazy regularisation)."""
        real = real.detach().requires_grad_(True)
        logits = self._d(D, real, labels)
        r1 = r1_penalty(logits, real)
        # + 0 * logits: every D parameter (the last bias too) is in the graph, as DDP requires of an update
        loss = 0.5 * self.lazy_r1_gamma * r1 * R1_EVERY + 0 * logits.sum()
        return loss, {"r1": r1.detach(), "r1_loss": loss.detach()}

    def pl_loss(self, G, D, real, z, labels) -> tuple[torch.Tensor, dict]:
        """Path-length regularisation on half the batch, times the interval."""
        z = z[: max(1, len(z) // PL_BATCH_SHRINK)]
        try:
            fake, ws = G(z, None, return_ws=True)
        except TypeError:
            raise ConfigError("--pl-weight needs a style-based generator (--model stylegan2)") from None
        noise = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
        (grad,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(2).mean(1).sqrt()  # (N,)
        self.pl_mean = self.pl_mean.to(lengths.device).lerp(lengths.mean().detach(), PL_DECAY)
        penalty = (lengths - self.pl_mean).square().mean()
        loss = self.pl_weight * penalty * PL_EVERY + 0 * fake[:, 0, 0, 0].sum()  # every G parameter in the graph (DDP)
        return loss, {"pl_penalty": penalty.detach(), "pl_mean": self.pl_mean.clone(), "pl_loss": loss.detach()}
