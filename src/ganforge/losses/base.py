"""The base of every GAN loss: D's pass with augmentation, the penalties, the auxiliary classifier,
and ``Phase``, the unit of the trainer's contract with a loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.ada import AdaptiveAugment


@dataclass(frozen=True)
class Phase:
    """One kind of optimiser update in an iteration; a loss lists its phases in ``phases()``.

    ``compute(G, D, real, z, labels) -> (loss, stats)`` on a micro-batch: the scalar to minimise
    and detached 0-d statistics for the log. The trainer gives the side being updated its
    DDP-wrapped network and the other side the plain one, with the other side's weights frozen
    (``requires_grad`` off) during a G phase.
    """

    name: str                # the stats key of the phase's total loss, e.g. "d_loss": NaN/inf there skips the update
    side: str                # "D" or "G": the network (and its optimiser, scaler and DDP wrapper) it updates
    compute: Callable
    repeat: int = 1          # updates in a row per iteration (D's n_critic)
    every: int = 1           # run on iterations 0, k, 2k, ... only (lazy regularisation: scale the term by k)
    new_batch: bool = True   # draw a new real batch per update (a G phase reuses the last one's labels)


class GANLoss:
    """Base: the discriminator's pass (with augmentation), penalties and the auxiliary-classifier term.

    Subclasses give the adversarial terms only: ``d_terms(real_logits, fake_logits)`` and
    ``g_term(fake_logits)``. Options, all independent of the architecture:

    - ``n_critic``: D steps per G step (None: the loss's own default, 5 for wgan-gp, else 1);
    - ``gp_weight``: weight of the WGAN-GP gradient penalty (used by losses with ``gradient_penalty``);
    - ``r1_gamma``: R1 penalty gamma/2 * E|grad_x D(x)|^2 on real images (0: off; Mescheder et al. 2018);
    - ``r2_gamma``: R2, the same penalty on generated images (0: off; Roth et al. 2017, R3GAN), taken on
      G's output as D sees it: G runs without gradient, so the penalty trains D only;
    - ``self_supervised``: for families whose D has its own self-supervised term on real images
      (FastGAN's reconstruction): D is called on real images with ``with_reconstruction=True`` and
      returns (logits (N,), its loss (0-d)), which is added to D's loss as the family weighted it;
    - ``family_options``: every option of the run's family with its value (a two-domain family's loss
      reads its weights there, e.g. CycleGAN's cycle lambda);
    - ``auxiliary_weight``: > 0 for families whose D also classifies (ACGAN): D is called with
      ``with_classes=True`` and returns (logits (N,), class logits (N, K)); the cross-entropy of
      real and fake images' classes is added to D's loss, the fake images' to G's.
    """

    name = "base"
    n_critic = 1  # discriminator steps per generator step
    gradient_penalty = False  # a per-image gradient penalty: D must score each image on its own
    paper_optimiser: dict = {}  # TrainConfig values the loss's paper trained with (recipes may adopt them)
    # D's score between "fake" and "real" (None: no fixed one, a Wasserstein critic's: the batch's midpoint)
    decision_threshold: float | None = 0.0

    def __init__(self, augment: Callable[[torch.Tensor], torch.Tensor] | None = None, *,
                 n_critic: int | None = None, gp_weight: float = 10.0, r1_gamma: float = 0.0,
                 r2_gamma: float = 0.0, auxiliary_weight: float = 0.0, self_supervised: bool = False,
                 family_options: dict | None = None):
        self.augment = augment
        # every option of the run's family with its value (``models.resolved_options``): a family's own loss
        # reads its weights there (the trainer passes them: a loss never imports the families)
        self.family_options = dict(family_options or {})
        if n_critic is not None:
            self.n_critic = n_critic
        self.gp_weight = gp_weight
        self.r1_gamma = r1_gamma
        self.r2_gamma = r2_gamma
        self.auxiliary_weight = auxiliary_weight
        self.self_supervised = self_supervised

    def _d(self, D, x: torch.Tensor, labels) -> torch.Tensor:
        return self._d_out(D, x, labels)[0]

    def _d_out(self, D, x: torch.Tensor, labels) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (N,) float32, class logits (N, K) float32 or None), after augmentation."""
        if self.augment is not None:
            x = self.augment(x)
        if self.auxiliary_weight:
            logits, classes = D(x, labels, with_classes=True)
            return logits.float(), classes.float()
        return D(x, labels).float(), None  # logits in float32 whatever the autocast dtype

    def augment_stats(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict:
        """An adaptive augmentation's statistics of a D step (``ada_p``, ``ada_rt`` = E[sign(D(real))]);
        a loss that overrides ``d_loss`` adds them to its D statistics too, or ADA cannot adapt."""
        if not isinstance(self.augment, AdaptiveAugment):
            return {}
        threshold: float | torch.Tensor | None = self.decision_threshold
        if threshold is None:
            threshold = ((real_logits.mean() + fake_logits.mean()) / 2).detach()
        return self.augment.stats(torch.sign(real_logits.detach() - threshold))

    # ---- the adversarial terms (subclasses) --------------------------------------------
    def d_terms(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_term(self, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_stats(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict:
        return {"d_real": real_logits.mean().detach(), "d_fake": fake_logits.mean().detach(),
                "d_acc": d_accuracy(real_logits, fake_logits)}

    # ---- the contract with the trainer ----------------------------------------------------
    def phases(self) -> list[Phase]:
        """The updates of one iteration, in order: ``n_critic`` D updates, then one G update."""
        return [Phase("d_loss", "D", self.d_loss, repeat=self.n_critic),
                Phase("g_loss", "G", lambda G, D, real, z, labels: self.g_loss(G, D, z, labels), new_batch=False)]

    def state_dict(self) -> dict:
        """State the loss keeps between iterations (e.g. an adaptive augmentation's p), for checkpoints."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``'s state on resume."""

    def _d_real(self, D, real: torch.Tensor, labels) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """D on real images: ``_d_out``'s pair and D's self-supervised loss on them (None without one)."""
        if not self.self_supervised:
            return (*self._d_out(D, real, labels), None)
        x = self.augment(real) if self.augment is not None else real  # D reconstructs what it saw
        logits, own = D(x, labels, with_reconstruction=True)
        return logits.float(), None, own.float()

    # ---- the steps ---------------------------------------------------------------------
    def d_loss(self, G, D, real, z, labels) -> tuple[torch.Tensor, dict]:
        with torch.no_grad():  # G gets no gradient from D's step, R2 included
            fake = G(z, labels)
        if self.r1_gamma:
            real = real.detach().requires_grad_(True)  # R1 is the gradient w.r.t. the un-augmented image
        if self.r2_gamma:
            fake = fake.detach().requires_grad_(True)  # R2 likewise, w.r.t. G's output
        real_logits, real_cls, own = self._d_real(D, real, labels)
        fake_logits, fake_cls = self._d_out(D, fake, labels)
        loss = self.d_terms(real_logits, fake_logits)
        stats = {"d_adv": loss.detach(), **self.d_stats(real_logits, fake_logits),
                 **self.augment_stats(real_logits, fake_logits)}
        if own is not None:
            loss = loss + own
            stats["d_self_supervised"] = own.detach()
        if self.gradient_penalty and self.gp_weight:
            gp = gradient_penalty(lambda x: self._d(D, x, labels), real.detach(), fake)
            loss = loss + self.gp_weight * gp
            stats["gp"] = gp.detach()
        if self.r1_gamma:
            r1 = r1_penalty(real_logits, real)
            loss = loss + 0.5 * self.r1_gamma * r1
            stats["r1"] = r1.detach()
        if self.r2_gamma:
            r2 = r1_penalty(fake_logits, fake)
            loss = loss + 0.5 * self.r2_gamma * r2
            stats["r2"] = r2.detach()
        if self.auxiliary_weight:
            assert real_cls is not None and fake_cls is not None  # an auxiliary weight means D has a class head
            ac = F.cross_entropy(real_cls, labels) + F.cross_entropy(fake_cls, labels)
            loss = loss + self.auxiliary_weight * ac
            stats["d_ac"] = ac.detach()
            stats["d_class_acc"] = (real_cls.argmax(1) == labels).float().mean().detach()
        stats["d_loss"] = loss.detach()
        return loss, stats

    def g_loss(self, G, D, z, labels) -> tuple[torch.Tensor, dict]:
        fake_logits, fake_cls = self._d_out(D, G(z, labels), labels)
        loss = self.g_term(fake_logits)
        stats = {}
        if self.auxiliary_weight:
            assert fake_cls is not None  # an auxiliary weight means D has a class head
            ac = F.cross_entropy(fake_cls, labels)
            loss = loss + self.auxiliary_weight * ac
            stats["g_ac"] = ac.detach()
        stats["g_loss"] = loss.detach()
        return loss, stats


def d_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor, threshold: float | torch.Tensor = 0.0
               ) -> torch.Tensor:
    """Fraction of real and fake images D classifies correctly at ``threshold`` (a training diagnostic)."""
    correct = (real_logits > threshold).float().sum() + (fake_logits < threshold).float().sum()
    return (correct / (real_logits.numel() + fake_logits.numel())).detach()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(|grad_x critic(x)|_2 - 1)^2] at x = eps*real + (1-eps)*fake.

    real, fake: (N, C, H, W); eps: (N, 1, 1, 1) uniform in [0, 1] (drawn here if not given).
    """
    if eps is None:
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x = (eps * real.float() + (1 - eps) * fake.float()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E[|grad_x D(x)|^2] over real images (``real`` must require grad and be D's input).

    The zero-centred penalty itself: on generated images it is R2."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.float().flatten(1).square().sum(1).mean()
