"""Is the generator copying its training images? A nearest-neighbour check in feature space.

A small data set seen for hundreds of passes (FastGAN on 1,000 faces sees each about 60 times in
30 minutes of CPU) can be memorised, and FID against the training images would then reward it.
The check follows the "authenticity" idea of Alaa et al., "How Faithful is your Synthetic Data?"
(ICML 2022): a generated sample that lies closer to its nearest training image than that image
lies to any other training image was probably copied from it. We report the distance as a ratio
rather than their yes/no, and calibrate it on the real images themselves:

- ``copy_ratio``: the median over generated samples g of d(g, t) / d(t, t'), where t is g's nearest
  training image and t' is t's nearest other training image;
- ``copy_ratio_real``: the same median for each training image taken out of the set and treated as
  a new sample (leave-one-out): what a generator that draws fresh images from the data's own
  distribution would score, since it copies nothing;
- ``near_copies``: the fraction of generated samples with a ratio under ``NEAR`` (1/3), and
  ``near_copies_real`` the same fraction for the left-out training images.

Read them together: ``copy_ratio`` well below ``copy_ratio_real``, or ``near_copies`` well above
``near_copies_real``, means the samples sit on top of training images. A generator that copies
exactly scores 0 and 1. Unlike Meehan et al.'s data-copying test (AISTATS 2020) we need no held-out
images, which a 1,000-image set cannot spare. The distances are in the extractor's features, so a
copy shifted by a few pixels or recoloured still counts as near.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.metrics.precision_recall import pairwise_distances
from ganforge.metrics.registry import EvalContext, register

NEAR = 1 / 3


def _two_nearest(x: torch.Tensor, ref: torch.Tensor, *, leave_one_out: bool, chunk: int = 1024):
    """For each row of ``x``: distances and indices of its two nearest rows of ``ref`` (N, 2) each;
    with ``leave_one_out`` (x is ref) a row is not its own neighbour."""
    dist, idx = [], []
    for i in range(0, len(x), chunk):
        d = pairwise_distances(x[i:i + chunk], ref)
        if leave_one_out:
            rows = torch.arange(i, min(i + chunk, len(x)), device=d.device)
            d[rows - i, rows] = float("inf")
        v, j = d.topk(2, dim=1, largest=False)
        dist.append(v)
        idx.append(j)
    return torch.cat(dist), torch.cat(idx)


def copy_ratios(real: np.ndarray, fake: np.ndarray,
                device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(ratios of the generated features ``fake``, leave-one-out ratios of ``real``), both (N, F) in.

    A ratio is a sample's distance to its nearest real point t over t's distance to its nearest other
    real point (see the module docstring). Distances under a thousandth of the typical one count as 0 in
    the denominator (float rounding leaves ~1e-8 between equal points), so duplicated real points do not
    divide by zero and a sample on top of one still reads as a copy.
    """
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)
    if len(r) < 3:
        raise ValueError("the copying check needs at least three real samples")
    rr_d, rr_i = _two_nearest(r, r, leave_one_out=True)
    floor = max(float(rr_d[:, 0].median()) * 1e-3, torch.finfo(torch.float64).tiny)
    radius = rr_d[:, 0].clamp_min(floor)                   # each real point to its nearest other
    fr_d, fr_i = _two_nearest(f, r, leave_one_out=False)
    fake_ratio = fr_d[:, 0] / radius[fr_i[:, 0]]
    # Real point i left out: its nearest is t = rr_i[i, 0]; t's nearest other, with i gone, is t's
    # second nearest when its nearest was i itself.
    t = rr_i[:, 0]
    own = torch.arange(len(r), device=r.device)
    t_radius = torch.where(rr_i[t, 0] == own, rr_d[t, 1], rr_d[t, 0]).clamp_min(floor)
    real_ratio = rr_d[:, 0] / t_radius
    return fake_ratio.cpu().numpy(), real_ratio.cpu().numpy()


@register("copying", uses_features=True, score=None,
          help="nearest-training-image check: copy_ratio well under copy_ratio_real means memorised samples")
def _copying(ctx: EvalContext) -> dict:
    fake, real = copy_ratios(ctx.real_features, ctx.fake_features, device=ctx.device)
    return {"copy_ratio": float(np.median(fake)), "copy_ratio_real": float(np.median(real)),
            "near_copies": float(np.mean(fake < NEAR)), "near_copies_real": float(np.mean(real < NEAR))}
