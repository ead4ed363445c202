"""GAN losses as objects that drive G and D; the networks know nothing about the loss.

A loss computes, for one discriminator step, ``d_loss(G, D, real, z, labels)`` and
for one generator step ``g_loss(G, D, z, labels)``, each returning the scalar to
minimise and a dict of detached 0-d tensors for the log (the trainer calls
``.item()`` only when it logs, so GPU steps do not synchronise every time). ``n_critic`` is the number of
D steps per G step. ``augment`` (if set) is applied to real and fake images right
before D, as differentiable augmentation must be. What the trainer asks a loss
(``n_critic``, ``gradient_penalty``, ...) is listed on ``GANLoss`` in ``base.py``.

To add a loss: write ``losses/<name>.py`` with a subclass of ``GANLoss`` (its ``d_terms`` and
``g_term``; override ``d_loss``/``g_loss`` for a loss that needs more, e.g. both images at once)
and add one line to ``LOSSES``.
"""

from __future__ import annotations

from ganforge.losses.base import (
    GANLoss,
    Phase,
    d_accuracy,
    gradient_penalty,
    r1_penalty,
)
from ganforge.losses.bce import NonSaturatingLoss
from ganforge.losses.cogan import CoupledLoss
from ganforge.losses.cyclegan import CycleGANLoss
from ganforge.losses.dtn import DTNLoss
from ganforge.losses.hinge import HingeLoss
from ganforge.losses.inpainter import InpainterLoss
from ganforge.losses.lsgan import LeastSquaresLoss
from ganforge.losses.rpgan import RelativisticPairingLoss
from ganforge.losses.stylegan2 import StyleGAN2Loss
from ganforge.losses.wgan_gp import WGANGPLoss

LOSSES: dict[str, type[GANLoss]] = {
    "bce": NonSaturatingLoss,
    "wgan-gp": WGANGPLoss,
    "hinge": HingeLoss,
    "lsgan": LeastSquaresLoss,
    "stylegan2": StyleGAN2Loss,  # non-saturating + lazy R1 and path length (style-based families)
    "rpgan": RelativisticPairingLoss,
    "cyclegan": CycleGANLoss,  # the two-domain families' own losses (each family names its LOSS)
    "cogan": CoupledLoss,
    "dtn": DTNLoss,
    "inpainter": InpainterLoss,  # the inpainter family's: L1 on random holes + an adversarial term
}

__all__ = ["LOSSES", "GANLoss", "Phase", "d_accuracy", "gradient_penalty", "r1_penalty"]
