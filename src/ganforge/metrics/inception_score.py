"""Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), mean and std over 10 splits.

With Inception it uses the 1008-way softmax of the 2015 graph (without the fc bias, as the
original code); with a domain classifier, that classifier's classes. IS ignores the real data
and rewards confident, diverse predictions: at most the number of classes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from ganforge.metrics.registry import EvalContext, register


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the score over ``splits`` consecutive chunks of (N, K) class probabilities."""
    probs = np.asarray(probs, np.float64)
    if len(probs) < splits:
        raise ValueError(f"IS with {splits} splits needs at least {splits} images")
    scores = []
    for part in np.array_split(probs, splits):
        py = part.mean(axis=0, keepdims=True)
        # xlogy: 0·log 0 = 0, so one-hot predictions are fine.
        kl = (xlogy(part, part) - xlogy(part, py)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


@register("is", uses_features=True, score=lambda v: -v["is"],
          help="Inception Score over 10 splits (higher is better; ignores the real data)")
def _is(ctx: EvalContext) -> dict:
    mean, std = inception_score(ctx.fake_probs)
    return {"is": mean, "is_std": std}
