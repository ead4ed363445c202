"""Fréchet distance (FID: Heusel et al. 2017) between Gaussians fitted to two feature sets.

    d² = |mu1 - mu2|² + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^½)

Tr((S1 S2)^½) is computed as the sum of square roots of the eigenvalues of the symmetric
PSD matrix S1^½ S2 S1^½ (it has the same eigenvalues as S1 S2), in float64. Unlike
``scipy.linalg.sqrtm(S1 @ S2)`` used by pytorch-fid, this needs no "add eps to the diagonal
when singular" fallback and never returns complex parts, so nearly singular covariances
(fewer images than feature dimensions, dead ReLU features) still give the right value.
"""

from __future__ import annotations

import numpy as np

from ganforge.metrics.registry import EvalContext, register


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) -> mean (F,) and covariance (F, F), float64, unbiased (N - 1), as pytorch-fid."""
    x = np.asarray(features, dtype=np.float64)
    if len(x) < 2:
        raise ValueError("at least two samples are needed for a covariance")
    mu = x.mean(axis=0)
    xc = x - mu
    return mu, xc.T @ xc / (len(x) - 1)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    r = _psd_sqrt(sigma1)
    m = r @ sigma2 @ r
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    d2 = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean
    return float(max(d2, 0.0))  # rounding can push an exact 0 slightly below


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    return frechet_distance(*feature_stats(real), *feature_stats(fake))


@register("fid", uses_features=True, score=lambda v: v["fid"],
          help="Fréchet distance between Gaussians fitted to real and generated features (lower is better)")
def _fid(ctx: EvalContext) -> dict:
    return {"fid": fid_from_features(ctx.real_features, ctx.fake_features)}
