"""The run's own discriminator's accuracy on real vs generated images: a training diagnostic.

It says how the two players stand against each other, not how good the images are: a
discriminator near 50 % may just be weak, and one near 100 % may face a fine generator
(the MITLGAN thesis made this point). It is therefore reported as ``d_acc[diagnostic]``
and cannot be chosen for the ``best`` checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ganforge.metrics.registry import EvalContext, register
from ganforge.sampling import from_uint8


@torch.no_grad()
def discriminator_accuracy(D: torch.nn.Module, real, fake, batch_size: int = 256) -> float:
    """Fraction of uint8 (N, H, W, C) real and fake images that D (logits > 0 = real) gets right."""
    device = next(D.parameters()).device
    was_training = D.training
    D.eval()
    correct, total = 0, 0
    for images, is_real in ((real, True), (fake, False)):
        for i in range(0, len(images), batch_size):
            x = from_uint8(images[i:i + batch_size], device)
            logits = D(x).float()
            correct += int(((logits > 0) == is_real).sum())
            total += len(x)
    D.train(was_training)
    return correct / total


@register("dacc", uses_features=False, score=None, pixels=True, needs_discriminator=True,
          help="the run's discriminator's accuracy on real vs generated images (a training diagnostic only)")
def _dacc(ctx: EvalContext) -> dict:
    if ctx.discriminator is None:
        raise ValueError("no discriminator: dacc needs a run directory")
    D = ctx.discriminator
    assert isinstance(D, nn.Module)
    return {"d_acc[diagnostic]": discriminator_accuracy(D, ctx.real_images, ctx.fake_images)}
