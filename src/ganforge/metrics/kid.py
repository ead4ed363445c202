"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial
kernel k(x, y) = (x·y / d + 1)³, averaged over random subsets; reports mean and std.

Defaults follow stylegan2-ada and torch-fidelity: 100 subsets of 1000. With fewer than 2000
images per set the subsets hold half the smaller set, so they differ and the std means
something (subsets of all images would all be the same set, std 0). Unlike FID, the estimator is unbiased, so
values near 0 (even slightly negative) mean "indistinguishable at this sample size".
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.metrics.registry import EvalContext, register


def mmd2_unbiased(x, y) -> float:
    """Unbiased MMD² of (m, d) and (n, d) samples (numpy arrays or tensors) with the cubic polynomial kernel."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64, device=x.device)
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (n * (n - 1))
                 - 2 * kxy.mean())


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, *, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0, device: str | torch.device = "cpu") -> tuple[float, float]:
    """(mean, std) of unbiased MMD² over ``subsets`` random subsets drawn without replacement
    (float64, on ``device``)."""
    real_t = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    fake_t = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)
    real, fake = real_t, fake_t  # type: ignore[assignment]  # from here on, float64 tensors
    m = min(subset_size, min(len(real), len(fake)) // 2)
    if m < 2:
        raise ValueError("KID needs at least four samples per set")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        i = torch.from_numpy(rng.choice(len(fake), m, replace=False)).to(fake.device)
        j = torch.from_numpy(rng.choice(len(real), m, replace=False)).to(real.device)
        values.append(mmd2_unbiased(fake[i], real[j]))
    return float(np.mean(values)), float(np.std(values))


@register("kid", uses_features=True, score=lambda v: v["kid"],
          help="kernel distance, unbiased, mean and std over 100 subsets (lower is better; ~0 = indistinguishable)")
def _kid(ctx: EvalContext) -> dict:
    mean, std = kernel_inception_distance(ctx.real_features, ctx.fake_features, seed=ctx.seed, device=ctx.device)
    return {"kid": mean, "kid_std": std}
