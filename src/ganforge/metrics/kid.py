"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial
kernel k(x, y) = (x·y / d + 1)³, averaged over random subsets; reports mean and std.

Defaults follow stylegan2-ada and torch-fidelity: 100 subsets of 1000 (fewer when the sets
are smaller). Unlike FID, the estimator is unbiased, so values near 0 (even slightly
negative) mean "indistinguishable at this sample size".
"""

from __future__ import annotations

import numpy as np

from ganforge.metrics.registry import EvalContext, register


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of (m, d) and (n, d) samples with the cubic polynomial kernel."""
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, *, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """(mean, std) of unbiased MMD² over ``subsets`` random subsets drawn without replacement."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    m = min(len(real), len(fake), subset_size)
    if m < 2:
        raise ValueError("KID needs at least two samples per set")
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(fake[rng.choice(len(fake), m, replace=False)], real[rng.choice(len(real), m, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


@register("kid", uses_features=True, score=lambda v: v["kid"],
          help="kernel distance, unbiased, mean and std over 100 subsets (lower is better; ~0 = indistinguishable)")
def _kid(ctx: EvalContext) -> dict:
    mean, std = kernel_inception_distance(ctx.real_features, ctx.fake_features, seed=ctx.seed)
    return {"kid": mean, "kid_std": std}
